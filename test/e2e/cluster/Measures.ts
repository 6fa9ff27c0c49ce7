// Small statistics over measured samples (wall times, attempts) for the cluster suite's report lines.

/** Median, 95th percentile and maximum of `samples` (NaN when empty). */
export const summarize = (
  samples: ReadonlyArray<number>
): { readonly n: number; readonly median: number; readonly p95: number; readonly max: number } => {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
  return {
    n: sorted.length,
    median: Math.round(at(0.5)),
    p95: Math.round(at(0.95)),
    max: Math.round(sorted[sorted.length - 1] ?? Number.NaN)
  }
}

/** Values that occur more than once in `values`. */
export const duplicatesOf = (values: ReadonlyArray<string>): ReadonlyArray<string> => {
  const seen = new Set<string>()
  const twice = new Set<string>()
  for (const value of values) (seen.has(value) ? twice : seen).add(value)
  return [...twice]
}

/** Print one measurement line (`cluster-results: {...}`) that docs/cluster-results.md quotes. */
export const report = (name: string, values: Readonly<Record<string, unknown>>): void => {
  console.log(`cluster-results: ${JSON.stringify({ name, ...values })}`)
}
