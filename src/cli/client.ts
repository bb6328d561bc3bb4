/**
 * What the data commands need from a registry: localClient.ts implements it on a data directory, remoteClient.ts
 * over the HTTP API, and the commands load the one they use on demand (each pulls in half the stack, which
 * `--help` and the other should not pay for). Both report failures as
 * the same `CliFailure` carrying the wire error detail, so one table (effects/errorStatus.ts) gives every exit
 * code. Results are typed as the wire shapes (http/Api.ts), which the registry's own values satisfy.
 */
import { Data, type Effect, type Option, type Stream } from "effect"
import type { Annotation } from "../domain/Annotation.ts"
import type { RegisterInputDecoded } from "../domain/fastDecode.ts"
import type { SearchText } from "../domain/Search.ts"
import { detailOf, type ErrorDetail } from "../effects/errorStatus.ts"
import type {
  AliasOutcomeWire,
  EventWire,
  HistoryWire,
  ModelOutcomeWire,
  OutcomeWire,
  SearchPageWire,
  SummaryWire,
  VersionWire,
} from "../http/Api.ts"

export class CliFailure extends Data.TaggedError("CliFailure")<{ readonly detail: ErrorDetail }> {}

export type Version = typeof VersionWire.Type
export type Outcome = typeof OutcomeWire.Type
export type Summary = typeof SummaryWire.Type
export type Event = typeof EventWire.Type
export type AliasOutcome = typeof AliasOutcomeWire.Type
export type SearchPage = typeof SearchPageWire.Type
export type ModelOutcome = typeof ModelOutcomeWire.Type
export type History = typeof HistoryWire.Type

export interface RegisterResult {
  /** false: an identical version was already registered and nothing was written. */
  readonly created: boolean
  readonly version: Version
}

export interface RegistryClient {
  readonly register: (input: RegisterInputDecoded) => Effect.Effect<RegisterResult, CliFailure>
  readonly promote: (name: string, version: string) => Effect.Effect<Outcome, CliFailure>
  readonly deprecate: (name: string, version: string) => Effect.Effect<Outcome, CliFailure>
  /**
   * The reads that take `asOf` take it as text (`seq:N`, a bare `N`, or an ISO timestamp), read where the registry
   * runs (domain/AsOf.ts `asOfFromText`), so local and remote refuse alike.
   */
  readonly get: (name: string, version: string, asOf?: string) => Effect.Effect<Version, CliFailure>
  readonly listModels: (includeArchived: boolean) => Effect.Effect<ReadonlyArray<Summary>, CliFailure>
  readonly listVersions: (name: string, asOf?: string) => Effect.Effect<ReadonlyArray<Version>, CliFailure>
  /** The model's production version (`null`: none). */
  readonly production: (name: string, asOf?: string) => Effect.Effect<Version | null, CliFailure>
  /** One page of a search given as its text forms (domain/Search.ts), parsed where the registry runs. */
  readonly search: (text: SearchText, asOf?: string) => Effect.Effect<SearchPage, CliFailure>
  readonly annotate: (name: string, version: string, annotation: Annotation) => Effect.Effect<Outcome, CliFailure>
  readonly annotateModel: (name: string, annotation: Annotation) => Effect.Effect<ModelOutcome, CliFailure>
  readonly archiveModel: (name: string) => Effect.Effect<ModelOutcome, CliFailure>
  readonly restoreModel: (name: string) => Effect.Effect<ModelOutcome, CliFailure>
  /** A model's changes, or one version's. */
  readonly history: (name: string, version?: string) => Effect.Effect<History, CliFailure>
  /**
   * Committed events from `from` (only new ones when `None`), until interrupted. A remote watch resumes across
   * dropped connections and fails once the server has been unreachable for `giveUpAfterMs`.
   */
  readonly watch: (from: Option.Option<number>, options: WatchOptions) => Stream.Stream<Event, CliFailure>
  readonly transition: (name: string, version: string, event: string) => Effect.Effect<Outcome, CliFailure>
  readonly setAlias: (name: string, alias: string, version: string) => Effect.Effect<AliasOutcome, CliFailure>
  readonly getAlias: (name: string, alias: string, asOf?: string) => Effect.Effect<Version, CliFailure>
  readonly removeAlias: (name: string, alias: string) => Effect.Effect<AliasOutcome, CliFailure>
  /** The registry's lifecycle as a Mermaid stateDiagram-v2. */
  readonly lifecycleDiagram: Effect.Effect<string, CliFailure>
}

export interface WatchOptions {
  readonly giveUpAfterMs: number
}

/** What to do about a directory written under another lifecycle, in the CLI's own flags. */
const mismatchHint = (detail: ErrorDetail): ErrorDetail =>
  detail.tag === "LifecycleMismatch"
    ? {
        ...detail,
        message: `${detail.message}. Open it with --lifecycle ${String(detail.recorded)}, or move it with --lifecycle ${String(detail.given)} --lifecycle-map old=new,… naming a state of "${String(detail.given)}" for each state its versions are in`,
      }
    : detail

export const failure = (error: unknown) => new CliFailure({ detail: mismatchHint(detailOf(error, "local")) })
