/**
 * Every JSON answer the server writes, rendered once to a string. Node writes a string body in the same chunk as
 * the head; the platform's `unsafeJson` encodes it to bytes first, which Node then writes as a second chunk. On
 * `/healthz` at 64 connections that was a quarter of the server's CPU per request
 * (bench/results/issue-15-server.md). Both lanes send these answers, so they stay byte for byte alike.
 */
import { HttpServerResponse } from "@effect/platform"

export interface JsonOptions {
  readonly status?: number
  readonly headers?: Readonly<Record<string, string>>
}

/** `value` as an `application/json` answer; throws as `JSON.stringify` does (a cycle, a bigint). */
export const jsonResponse = (value: unknown, options?: JsonOptions): HttpServerResponse.HttpServerResponse => {
  const text = JSON.stringify(value)
  return HttpServerResponse.raw(text, {
    status: options?.status ?? 200,
    ...(options?.headers === undefined ? {} : { headers: options.headers }),
    contentType: "application/json",
    contentLength: Buffer.byteLength(text),
  })
}

/** The body of an answer made by `jsonResponse`, or `undefined` for any other. */
export const jsonText = (response: HttpServerResponse.HttpServerResponse): string | undefined => {
  const { body } = response
  return body._tag === "Raw" && typeof body.body === "string" ? body.body : undefined
}
