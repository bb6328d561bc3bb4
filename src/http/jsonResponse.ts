/**
 * Every JSON answer the server writes, rendered once to a string. Node writes a string body in the same chunk as
 * the head; the platform's `unsafeJson` encodes it to bytes first, which Node then writes as a second chunk. On
 * `/healthz` at 64 connections that was a quarter of the server's CPU per request
 * (bench/results/issue-15-server.md). Both lanes send these answers, so they stay byte for byte alike.
 */
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"

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
    contentLength: utf8Length(text),
  })
}

/**
 * The UTF-8 length of `text`, counted from its UTF-16 code units: `Buffer.byteLength` is Node's alone, and
 * `TextEncoder` would make the bytes just to count them. A lone surrogate counts 3, as the encoder writes U+FFFD.
 */
export const utf8Length = (text: string): number => {
  let bytes = text.length
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit < 0x80) continue
    if (unit < 0x800) bytes += 1
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 2
        i++
      } else bytes += 2
    } else bytes += 2
  }
  return bytes
}

/** The body of an answer made by `jsonResponse`, or `undefined` for any other. */
export const jsonText = (response: HttpServerResponse.HttpServerResponse): string | undefined => {
  const { body } = response
  return body._tag === "Raw" && typeof body.body === "string" ? body.body : undefined
}
