/** Events in words, for the version timeline and the live feed. */
import type { RegistryEvent } from "./api.ts"

/** One line saying what an event did to the version (or model) it names. */
export const describe = (event: RegistryEvent): string => {
  switch (event._tag) {
    case "Registered":
      return "registered"
    case "Transitioned":
      return `${event.event}: ${String(event.from)} → ${String(event.to)}`
    case "Promoted":
      return "promoted to production"
    case "Deprecated":
      return "deprecated"
    case "AliasSet":
      return `alias ${event.alias} set`
    case "AliasRemoved":
      return `alias ${event.alias} removed`
    case "VersionAnnotated":
      return "annotated"
    case "ModelAnnotated":
      return "model annotated"
    case "ModelArchived":
      return "model archived"
    case "ModelRestored":
      return "model restored"
    case "LifecycleChanged":
      return "lifecycle changed"
    default:
      return event._tag
  }
}
