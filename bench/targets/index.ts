/**
 * Every durable-write design the closed loop measures, in the order they alternate and are reported.
 */
import type { TargetDefinition } from "./DurableTarget.ts"
import { groupCommitEffect, groupCommitPromise, groupCommitRetaining } from "./groupCommitReference.ts"
import { rawFdatasync } from "./rawFdatasync.ts"
import { registryEffect, registryPromise } from "./registry.ts"
import { seedWal } from "./seedWal.ts"
import { sqliteOnePerTransaction } from "./sqlite.ts"

export const durableTargets: ReadonlyArray<TargetDefinition> = [
  rawFdatasync,
  seedWal,
  sqliteOnePerTransaction,
  groupCommitPromise,
  groupCommitEffect,
  groupCommitRetaining,
  registryEffect,
  registryPromise,
]
