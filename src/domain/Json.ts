/**
 * The JSON values a version may carry as metrics. They are checked by hand in one pass because the rules
 * (finite numbers only, bounded depth, no prototype-polluting keys, an encoded-size cap) span the whole tree,
 * which Schema's per-node filters would re-walk at every level.
 */

export type JsonValue =
  | null
  | boolean
  | number
  | string
  | ReadonlyArray<JsonValue>
  | { readonly [key: string]: JsonValue }
export type JsonObject = { readonly [key: string]: JsonValue }

/** Deeper trees are rejected so that neither validation nor encoding can exhaust the stack. */
export const jsonDepthMax = 32

/** Keys that would reach Object.prototype if merged into a plain object anywhere downstream. */
export const forbiddenKeys: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"])

const isPlainObject = (value: object): boolean => {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Returns `undefined` if `value` is acceptable JSON, or the path and rule of the first violation. */
export const jsonViolation = (value: unknown, path: string, depth = 0): { path: string; rule: string } | undefined => {
  if (depth > jsonDepthMax) return { path, rule: `nests deeper than ${jsonDepthMax} levels` }
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined
    case "number":
      return Number.isFinite(value) ? undefined : { path, rule: "must be a finite number" }
    case "object": {
      if (value === null) return undefined
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const found = jsonViolation(value[i], `${path}[${i}]`, depth + 1)
          if (found) return found
        }
        return undefined
      }
      if (!isPlainObject(value)) return { path, rule: "must be a plain JSON object" }
      for (const key of Object.keys(value)) {
        if (forbiddenKeys.has(key)) return { path: `${path}.${key}`, rule: "is a reserved key" }
        const found = jsonViolation((value as Record<string, unknown>)[key], `${path}.${key}`, depth + 1)
        if (found) return found
      }
      return undefined
    }
    default:
      return { path, rule: `must be JSON, not ${typeof value}` }
  }
}

/**
 * A deep copy of an accepted JSON value as JSON would carry it (-0 becomes 0), every object and array frozen.
 * Records are shared with every reader and written into snapshots, so a caller that kept its `metrics` object (or a
 * reader that changed a returned one) must not be able to change what the registry holds: that change would reach
 * the next snapshot, but not the log.
 * Hand-written: `structuredClone` neither freezes nor exists in every runtime's core.
 */
export const frozenCopy = (value: JsonValue): JsonValue => {
  // -0 is written as 0 in the log: keep in memory what a restart would read back.
  if (value === 0) return 0
  if (typeof value !== "object" || value === null) return value
  if (Array.isArray(value)) return Object.freeze(value.map(frozenCopy))
  const copy: Record<string, JsonValue> = {}
  const record = value as Record<string, JsonValue>
  // for-in over own keys rather than `Object.keys`: it allocates no key array (two per register, metrics and tags).
  for (const key in record) if (Object.hasOwn(record, key)) copy[key] = frozenCopy(record[key]!)
  return Object.freeze(copy)
}

/** Freezes an accepted JSON value that the registry already owns (parsed from its own files), in place. */
export const deepFreeze = <A extends JsonValue>(value: A): A => {
  if (typeof value !== "object" || value === null || Object.isFrozen(value)) return value
  const record = value as Record<string, JsonValue>
  for (const key of Object.keys(record)) deepFreeze(record[key]!)
  return Object.freeze(value)
}

/**
 * Deep equality of two JSON values, ignoring key order (the idempotency check must not depend on how a client
 * happened to order its keys). Hand-written: the core may not use `node:util`, and Effect's `Equal` does not
 * compare plain objects structurally.
 */
export const jsonEqual = (a: JsonValue, b: JsonValue): boolean => {
  if (a === b) return true
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false
    return a.every((item, i) => jsonEqual(item, b[i] as JsonValue))
  }
  const aKeys = Object.keys(a)
  const bObject = b as JsonObject
  if (aKeys.length !== Object.keys(bObject).length) return false
  return aKeys.every((key) => Object.hasOwn(bObject, key) && jsonEqual((a as JsonObject)[key]!, bObject[key]!))
}
