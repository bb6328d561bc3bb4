/**
 * Who is signed in, for the pages to offer only what the role allows. Only an offer: the server checks every request
 * against the same role order, and its refusal is shown as it is.
 */
import { createContext } from "preact"
import { useContext } from "preact/hooks"
import { type Role, roleAllows } from "../../src/http/roles.ts"
import type { Identity } from "./api.ts"

/** null until `/whoami` has answered: nothing is offered before the role is known. */
export const SignedIn = createContext<Identity | null>(null)

export const useAllows = (required: Role): boolean => {
  const identity = useContext(SignedIn)
  return identity !== null && roleAllows(identity.role, required)
}
