/**
 * A map of at most `capacity` entries that forgets the least recently set one: for results that stay true while
 * the content they come from exists (content-addressed reads), so a memory bound is the only eviction needed.
 */
import { Effect } from "effect"

export interface BoundedCache<A> {
  readonly get: (key: string) => A | undefined
  readonly set: (key: string, value: A) => void
  readonly delete: (key: string) => void
  /** The cached value, or `compute`'s, which is cached when it succeeds. */
  readonly getOrCompute: <E, R>(key: string, compute: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export const boundedCache = <A>(capacity: number): BoundedCache<A> => {
  const entries = new Map<string, A>()
  const set = (key: string, value: A) => {
    entries.delete(key)
    entries.set(key, value)
    if (entries.size > capacity) entries.delete(entries.keys().next().value as string)
  }
  return {
    get: (key) => entries.get(key),
    set,
    delete: (key) => void entries.delete(key),
    getOrCompute: (key, compute) =>
      Effect.suspend(() => {
        const hit = entries.get(key)
        return hit !== undefined ? Effect.succeed(hit) : Effect.tap(compute, (value) => Effect.sync(() => set(key, value)))
      })
  }
}
