/** The registry's web UI: the login form when the server asks for a token, the navigation, and the page routed to. */
import { render } from "preact"
import { useEffect, useState } from "preact/hooks"
import { type ApiError, api, type Identity, onUnauthorized, token } from "./api.ts"
import { ErrorMessage } from "./common.tsx"
import { SignedIn } from "./identity.ts"
import { Feed } from "./pages/Feed.tsx"
import { LifecyclePage } from "./pages/Lifecycle.tsx"
import { ModelPage } from "./pages/Model.tsx"
import { Models } from "./pages/Models.tsx"
import { VersionPage } from "./pages/Version.tsx"
import { href, interceptLinks, parse, useLocation } from "./router.ts"

const Login = ({ onLogin, refusal }: { readonly onLogin: () => void; readonly refusal: ApiError | null }) => {
  const [secret, setSecret] = useState("")
  return (
    <>
      <h1>Sign in</h1>
      <ErrorMessage error={refusal} />
      <form
        class="column narrow"
        onSubmit={(e) => {
          e.preventDefault()
          token.set(secret)
          onLogin()
        }}
      >
        <p>This server needs an API token. It is kept in this tab's session storage only.</p>
        <label for="token">Token</label>
        <input
          id="token"
          type="password"
          autocomplete="current-password"
          required
          value={secret}
          onInput={(e) => setSecret(e.currentTarget.value)}
        />
        <button type="submit">Sign in</button>
      </form>
    </>
  )
}

const Page = ({ path }: { readonly path: string }) => {
  const route = parse(path)
  switch (route.page) {
    case "models":
      return <Models />
    case "model":
      return <ModelPage name={route.name} />
    case "version":
      return <VersionPage name={route.name} version={route.version} />
    case "lifecycle":
      return <LifecyclePage />
    case "feed":
      return <Feed />
    case "missing":
      return (
        <>
          <h1>Not found</h1>
          <p>No page at {route.path}.</p>
        </>
      )
  }
}

const App = () => {
  const path = useLocation()
  const [needsLogin, setNeedsLogin] = useState(false)
  // Why the server refused the token just tried; none before the first try.
  const [refusal, setRefusal] = useState<ApiError | null>(null)
  // A new login remounts the page, so it loads again with the token.
  const [session, setSession] = useState(0)
  const [identity, setIdentity] = useState<Identity | null>(null)
  useEffect(
    () =>
      onUnauthorized((error) => {
        // The first refusal of a token tried says why; the other requests made with it (the page's, whoami's) find
        // it cleared and leave the reason on screen.
        if (token.get() !== null) setRefusal(error)
        token.clear()
        setIdentity(null)
        setNeedsLogin(true)
      }),
    [],
  )
  // A refused token reaches the login form through onUnauthorized; any other failure leaves the role unknown, so the
  // pages offer no action and still show what the server lets them read.
  useEffect(() => {
    let current = true
    api.whoami().then(
      (who) => current && setIdentity(who),
      () => undefined,
    )
    return () => {
      current = false
    }
  }, [session])
  useEffect(() => {
    document.getElementById("main")?.focus()
  }, [path])
  const current = (to: string) => (path === to ? "page" : undefined)
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <nav aria-label="Main">
          <span class="brand">Model registry</span>
          <a href={href.models()} aria-current={current(href.models())}>
            Models
          </a>
          <a href={href.lifecycle()} aria-current={current(href.lifecycle())}>
            Lifecycle
          </a>
          <a href={href.feed()} aria-current={current(href.feed())}>
            Live events
          </a>
          {identity !== null && (
            <span class="who">
              {identity.name} · {identity.role}
            </span>
          )}
          {token.get() !== null && (
            <button
              type="button"
              class="link"
              onClick={() => {
                token.clear()
                setRefusal(null)
                setIdentity(null)
                setNeedsLogin(true)
              }}
            >
              Sign out
            </button>
          )}
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        {needsLogin ? (
          <Login
            refusal={refusal}
            onLogin={() => {
              setNeedsLogin(false)
              setSession((n) => n + 1)
            }}
          />
        ) : (
          <SignedIn.Provider value={identity}>
            <Page key={`${session}:${path}`} path={path} />
          </SignedIn.Provider>
        )}
      </main>
    </>
  )
}

document.addEventListener("click", interceptLinks)
render(<App />, document.getElementById("app")!)
