#!/usr/bin/env node
// Runs the TypeScript CLI in this process through tsx's ESM loader, so a fresh clone needs no build step.
// Same process: signals reach the program directly and its exit code is the process's.
import { register } from "tsx/esm/api"

register()
await import(new URL("../src/cli/bin.ts", import.meta.url).href)
