/**
 * The server's fast lane: the JSON routes (the models group's and `/healthz`) answered on Node's request directly,
 * beside the platform's router, which serves everything else (event streams, metrics, the lifecycle, the docs). The
 * platform runs every request as a fiber with its own span, fiber refs, pre-response handlers and an effect that
 * writes the answer; on this project's 2-core machine a minimal `HttpApi` server with one route answered 0.07–0.18×
 * of bare `node:http`'s rate, so no tuning of our own layer could bring the server near Node
 * (bench/results/issue-15-server.md, bench/children/minimalHttpApiServer.ts).
 *
 * The lane answers with the same code as the API's handlers (`HotAnswers`, src/http/handlers.ts), takes its paths
 * from the API declaration, records the same metrics, and takes a request only when the platform would route it to
 * the same endpoint with the same parameters and the edge (src/http/Server.ts) would let it through: the exact
 * path of a declared route (no query, no percent-encoding, no empty or extra segment) with its method, from a
 * request that did not arrive during shutdown. Everything else, an edge refusal included, goes to the platform,
 * which answers it as before. test/http/fastLane.node.test.ts checks that both lanes answer alike.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from "node:http"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect, Either, Exit } from "effect"
import { declaredRoute, declaredRouteList } from "./Api.ts"
import type { Identity } from "./bearerToken.ts"
import { type CrossSiteRules, crossSiteCheck, withAllowedOrigin } from "./crossSite.ts"
import { admitted } from "./edge.ts"
import { internalError } from "./errorResponse.ts"
import type { HotAnswers } from "./handlers.ts"
import { jsonText } from "./jsonResponse.ts"
import { readBodyText } from "./nodeHost.ts"
import { recordRequest, routeLabel } from "./requestMetrics.ts"

/** Answers the request and returns `true`, or returns `false` without touching it. */
export type FastLane = (request: IncomingMessage, response: ServerResponse) => boolean

type Answer = HttpServerResponse.HttpServerResponse

/** How a route answers: a read at once, a write once its commit is durable, a body's write once it is read too. */
type Handler =
  | { readonly _tag: "Read"; readonly answer: (params: ReadonlyArray<string>) => Answer }
  | { readonly _tag: "Write"; readonly answer: (params: ReadonlyArray<string>, actor: string) => Effect.Effect<Answer> }
  | {
      readonly _tag: "BodyWrite"
      readonly answer: (params: ReadonlyArray<string>, body: string, actor: string) => Effect.Effect<Answer>
    }

export interface Route {
  readonly method: string
  /** The path's segments after the leading "/", `undefined` where a parameter goes. */
  readonly segments: ReadonlyArray<string | undefined>
  readonly label: string
  readonly handler: Handler
}

const read = (answer: (params: ReadonlyArray<string>) => Answer): Handler => ({ _tag: "Read", answer })
const write = (answer: (params: ReadonlyArray<string>, actor: string) => Effect.Effect<Answer>): Handler => ({
  _tag: "Write",
  answer,
})
const bodyWrite = (
  answer: (params: ReadonlyArray<string>, body: string, actor: string) => Effect.Effect<Answer>,
): Handler => ({
  _tag: "BodyWrite",
  answer,
})

const segmentsOf = (path: string) =>
  path
    .slice(1)
    .split("/")
    .map((segment) => (segment.startsWith(":") ? undefined : segment))

/** Whether a path matches both templates: the router would choose by a precedence the lane does not copy. */
const overlap = (a: ReadonlyArray<string | undefined>, b: ReadonlyArray<string | undefined>) =>
  a.length === b.length && a.every((segment, i) => segment === undefined || b[i] === undefined || segment === b[i])

const route = (name: string, handler: Handler): Route => {
  const { method, path } = declaredRoute(name)
  const segments = segmentsOf(path)
  for (const other of declaredRouteList())
    if (other.name !== name && other.method === method && overlap(segments, segmentsOf(other.path)))
      throw new Error(`fast lane: ${method} ${path} overlaps ${other.path}; leave such routes to the platform's router`)
  return { method, segments, label: routeLabel(path), handler }
}

/** What the platform's router would split off or decode; a path holding any of them is the platform's to route. */
const notPlain = /[?;#%]/

/** The parameters of `path` under `route`, or `undefined` when it is not that route's path. */
const match = (
  route: { readonly segments: ReadonlyArray<string | undefined> },
  parts: ReadonlyArray<string>,
): ReadonlyArray<string> | undefined => {
  const { segments } = route
  if (parts.length !== segments.length) return undefined
  const params: Array<string> = []
  for (let i = 0; i < segments.length; i++) {
    const literal = segments[i]
    const part = parts[i]!
    if (literal === undefined) {
      if (part.length === 0) return undefined
      params.push(part)
    } else if (part !== literal) return undefined
  }
  return params
}

/** Anything other than a JSON body does not occur on these routes; it would be a bug, answered as one. */
const bodyOf = (response: HttpServerResponse.HttpServerResponse): string | undefined => {
  const text = jsonText(response)
  if (text !== undefined || response.body._tag === "Empty") return text
  throw new Error(`fast lane: unexpected ${response.body._tag} body`)
}

export interface FastLaneOptions {
  readonly rules: CrossSiteRules
  /**
   * The edge's refusal of a request it lets through the host and origin checks (token and role, body size, JSON
   * writes), or who an admitted one is.
   */
  readonly admission: (request: IncomingMessage) => HttpServerResponse.HttpServerResponse | Identity
  readonly arrivedLate: (request: IncomingMessage) => boolean
}

/** The route and parameters the lane takes `method` `url` as, or `undefined` when it leaves them to the platform. */
export const routeOf = <R extends { readonly method: string; readonly segments: ReadonlyArray<string | undefined> }>(
  routes: ReadonlyArray<R>,
  method: string,
  url: string,
): { readonly route: R; readonly params: ReadonlyArray<string> } | undefined => {
  if (notPlain.test(url) || url.charCodeAt(0) !== 47) return undefined
  const parts = url.slice(1).split("/")
  for (const route of routes) {
    if (route.method !== method) continue
    const params = match(route, parts)
    if (params !== undefined) return { route, params }
  }
  return undefined
}

/** The hot routes: each one's declared path and method, and its answer. Reads answer without waiting. */
export const hotRoutes = (hot: HotAnswers): ReadonlyArray<Route> => [
  route(
    "healthz",
    read(() => hot.healthz()),
  ),
  route(
    "getVersion",
    read(([name, version]) => hot.getVersion(name!, version!)),
  ),
  route(
    "register",
    bodyWrite(([name], body, actor) => hot.register(name!, body, actor)),
  ),
  route(
    "listModels",
    read(() => hot.listModels()),
  ),
  route(
    "getModel",
    read(([name]) => hot.getModel(name!)),
  ),
  route(
    "listVersions",
    read(([name]) => hot.listVersions(name!)),
  ),
  route(
    "promote",
    write(([name, version], actor) => hot.promote(name!, version!, actor)),
  ),
  route(
    "deprecate",
    write(([name, version], actor) => hot.deprecate(name!, version!, actor)),
  ),
  route(
    "transition",
    write(([name, version, event], actor) => hot.transition(name!, version!, event!, actor)),
  ),
  route(
    "setAlias",
    bodyWrite(([name, alias], body, actor) => hot.setAlias(name!, alias!, body, actor)),
  ),
  route(
    "getAlias",
    read(([name, alias]) => hot.getAlias(name!, alias!)),
  ),
  route(
    "removeAlias",
    write(([name, alias], actor) => hot.removeAlias(name!, alias!, actor)),
  ),
  route(
    "annotate",
    bodyWrite(([name, version], body, actor) => hot.annotate(name!, version!, body, actor)),
  ),
  route(
    "versionHistory",
    read(([name, version]) => hot.versionHistory(name!, version!)),
  ),
  route(
    "annotateModel",
    bodyWrite(([name], body, actor) => hot.annotateModel(name!, body, actor)),
  ),
  route(
    "archiveModel",
    write(([name], actor) => hot.archiveModel(name!, actor)),
  ),
  route(
    "restoreModel",
    write(([name], actor) => hot.restoreModel(name!, actor)),
  ),
  route(
    "modelHistory",
    read(([name]) => hot.modelHistory(name!)),
  ),
]

export const make = (hot: HotAnswers, options: FastLaneOptions): FastLane => {
  const routes = hotRoutes(hot)

  const send = (
    response: ServerResponse,
    answer: HttpServerResponse.HttpServerResponse,
    method: string,
    label: string,
    started: number,
  ) => {
    let body: string | undefined
    try {
      body = bodyOf(answer)
    } catch {
      answer = internalError()
      body = bodyOf(answer)
    }
    recordRequest(method, label, answer.status, (performance.now() - started) / 1000)
    if (response.destroyed || response.writableEnded) return
    response.writeHead(answer.status, answer.headers as OutgoingHttpHeaders)
    response.end(body)
  }

  return (request, response) => {
    const method = request.method!
    const found = routeOf(routes, method, request.url!)
    if (found === undefined || options.arrivedLate(request)) return false
    const checked = crossSiteCheck(options.rules, request)
    if (typeof checked === "object") return false
    const identity = options.admission(request)
    if (!admitted(identity)) return false
    const actor = identity.name

    const started = performance.now()
    const { label } = found.route
    const respond = (answer: Answer) =>
      send(response, checked === undefined ? answer : withAllowedOrigin(answer, checked), method, label, started)
    const run = (write: Effect.Effect<Answer>) =>
      Effect.runCallback(write, {
        onExit: (exit) => {
          // A write's answer turns every failure into an answer, so a failed exit is a defect: logged, as the
          // edge logs one.
          if (Exit.isFailure(exit)) Effect.runFork(Effect.logError("unexpected failure", exit.cause))
          respond(Exit.isSuccess(exit) ? exit.value : internalError())
        },
      })
    const { handler } = found.route
    const { params } = found
    if (handler._tag === "Read") respond(handler.answer(params))
    else if (handler._tag === "Write") run(handler.answer(params, actor))
    else
      readBodyText(request, hot.bodyBytesMax, (text) =>
        Either.isLeft(text) ? respond(text.left) : run(handler.answer(params, text.right, actor)),
      )
    return true
  }
}
