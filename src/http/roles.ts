/**
 * The roles a token may hold and their order. Its own module, importing nothing, so the web UI's bundle can share
 * the order the server enforces without pulling in Effect through tokens.ts.
 */

/** Each role may do what the ones before it may. */
export const roles = ["reader", "writer", "admin"] as const
export type Role = (typeof roles)[number]

export const isRole = (value: string): value is Role => (roles as ReadonlyArray<string>).includes(value)

/** Whether `held` may do what `required` allows. */
export const roleAllows = (held: Role, required: Role): boolean => roles.indexOf(held) >= roles.indexOf(required)
