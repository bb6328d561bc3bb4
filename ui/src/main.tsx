/** The registry's web UI: the login form when the server asks for a token, the navigation, and the page routed to. */
import { render } from "preact"
import { useEffect, useState } from "preact/hooks"
import { type ApiError, onUnauthorized, token } from "./api.ts"
import { ErrorMessage } from "./common.tsx"
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
  useEffect(
    () =>
      onUnauthorized((error) => {
        setRefusal(token.get() === null ? null : error)
        token.clear()
        setNeedsLogin(true)
      }),
    [],
  )
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
          {token.get() !== null && (
            <button
              type="button"
              class="link"
              onClick={() => {
                token.clear()
                setRefusal(null)
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
          <Page key={`${session}:${path}`} path={path} />
        )}
      </main>
    </>
  )
}

document.addEventListener("click", interceptLinks)
render(<App />, document.getElementById("app")!)
