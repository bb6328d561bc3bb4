/**
 * Binary search over a sorted range: the one loop behind every "first element after" of the index's sorted lists.
 */

/** The first index in `items[from, to)` for which `after` holds, given that it holds for a suffix of that range. */
export const partitionPoint = <A>(
  items: ReadonlyArray<A>,
  after: (item: A) => boolean,
  from = 0,
  to: number = items.length,
): number => {
  let low = from
  let high = to
  while (low < high) {
    const middle = (low + high) >>> 1
    if (after(items[middle]!)) high = middle
    else low = middle + 1
  }
  return low
}
