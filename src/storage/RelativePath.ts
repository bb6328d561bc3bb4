/**
 * Checks the relative file names the observer ports accept (e.g. `observers/audit.cursor`), so a name that came
 * from user input can never escape the data directory or name a file the WAL owns.
 */
const component = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/
const componentsMax = 4

/** The path's components; throws (a defect: names are validated upstream) for anything else. */
export const relativeComponents = (relative: string): Array<string> => {
  const parts = relative.split("/")
  if (parts.length > componentsMax || !parts.every((p) => component.test(p) && !p.endsWith(".tmp")))
    throw new Error(
      `invalid storage file name ${JSON.stringify(relative)}: expected up to ${componentsMax} safe components`,
    )
  return parts
}
