/**
 * POSIX paths for the simulated disk.
 *
 * @effect/platform's `Path.layer` is a POSIX port with no `node:` import, so the storage layer can use it on the
 * simulated disk. Its one runtime dependency is `resolve`, which reads `process.cwd()` when it exists. A simulated
 * run must not depend on the host's working directory, so this module pins the working directory to "/", the same
 * root the simulated disk resolves relative paths against.
 */
import * as Path from "@effect/platform/Path"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** The working directory of the simulated disk: relative paths resolve against it. */
export const simulatedCwd = "/"

/**
 * Splits a path into its components after resolving it against "/" and removing "." and "..".
 * ".." at the root stays at the root, as in POSIX.
 */
export const pathComponents = (path: string): Array<string> => {
  const out: Array<string> = []
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") out.pop()
    else out.push(part)
  }
  return out
}

/** The canonical absolute form of a path: "/" for the root, "/a/b" otherwise (no trailing slash). */
export const normalizeSimulatedPath = (path: string): string => `/${pathComponents(path).join("/")}`

/** Makes a `Path` service whose `resolve` and `relative` use "/" as the working directory. */
export const makeSimulatedPath = (base: Path.Path): Path.Path => ({
  ...base,
  resolve: (...segments) => base.resolve(simulatedCwd, ...segments),
  relative: (from, to) => base.relative(base.resolve(simulatedCwd, from), base.resolve(simulatedCwd, to)),
})

/** `Path.Path` for code running on the simulated disk: POSIX, runtime-neutral, working directory "/". */
export const layerSimulatedPath: Layer.Layer<Path.Path> = Layer.effect(
  Path.Path,
  Effect.map(Path.Path, makeSimulatedPath),
).pipe(Layer.provide(Path.layer))
