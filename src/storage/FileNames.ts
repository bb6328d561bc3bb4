/**
 * Names of the files in a data directory. Seqs are zero-padded so names sort in seq order, and every name is
 * parsed strictly: a file we did not write is never mistaken for a segment or a snapshot.
 */
const seqDigits = 16

const pad = (seq: number) => String(seq).padStart(seqDigits, "0")

export const segmentFileName = (firstSeq: number): string => `wal-${pad(firstSeq)}.seg`
export const snapshotFileName = (lastSeq: number): string => `snap-${pad(lastSeq)}.snap`
export const tmpSuffix = ".tmp"
export const brokenSuffix = ".broken"

const segmentPattern = /^wal-(\d{16})\.seg$/
const snapshotPattern = /^snap-(\d{16})\.snap$/

/** The first seq a segment file name declares, or undefined for other files. */
export const parseSegmentFileName = (name: string): number | undefined => {
  const m = segmentPattern.exec(name)
  return m ? Number(m[1]) : undefined
}

/** The last seq a snapshot file name declares, or undefined for other files. */
export const parseSnapshotFileName = (name: string): number | undefined => {
  const m = snapshotPattern.exec(name)
  return m ? Number(m[1]) : undefined
}
