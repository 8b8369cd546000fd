/**
 * The registry client's Authorization headers, per host, repository scope and credential: a Bearer token is
 * used until shortly before its `expires_in` runs out and then renewed with the challenge that obtained it —
 * before the next request, not after a 401 — so a long pull keeps going on fresh tokens. Concurrent requests
 * that need a token for the same key share one token request; it runs in a fiber of its own (bounded by the
 * request timeout), so a caller that is interrupted does not fail the others, and a pull still running on a client
 * whose layer was closed (the config changed meanwhile) still gets its token.
 */
import { Clock, Deferred, Effect, Option, Redacted } from "effect"
import type { Challenge, RegistryError } from "../../src/image/RegistryProtocol.js"

export interface Authorization {
  readonly header: Redacted.Redacted<string>
  /** Epoch milliseconds after which it is not sent any more (infinite for Basic). */
  readonly expiresAt: number
  /** The Bearer challenge that obtained it, to renew it with. */
  readonly challenge: Challenge | undefined
}

export interface Authorizations {
  /**
   * The header to send for `key`: the cached one while it is current; a renewed one (via `renew`, with the
   * challenge of the expired one) once it is not; none if nothing was ever obtained.
   */
  readonly current: (
    key: string,
    renew: (challenge: Challenge) => Effect.Effect<Authorization, RegistryError>
  ) => Effect.Effect<Option.Option<Redacted.Redacted<string>>, RegistryError>
  /**
   * After a 401 to a request sent with `sent`: another request's newer header if one arrived meanwhile, else a
   * new one from `obtain` (shared with concurrent callers).
   */
  readonly replace: (
    key: string,
    sent: Option.Option<Redacted.Redacted<string>>,
    obtain: Effect.Effect<Authorization, RegistryError>
  ) => Effect.Effect<Redacted.Redacted<string>, RegistryError>
}

/** Entries kept before expired ones are swept. */
const SWEEP_AT = 256

const sameHeader = (a: Redacted.Redacted<string>, b: Option.Option<Redacted.Redacted<string>>): boolean =>
  Option.isSome(b) && Redacted.value(a) === Redacted.value(b.value)

export const make: Effect.Effect<Authorizations> = Effect.sync(() => {
  const cache = new Map<string, Authorization>()
  const inFlight = new Map<string, Deferred.Deferred<Authorization, RegistryError>>()

  const remember = (key: string, entry: Authorization, now: number) => {
    if (cache.size >= SWEEP_AT) {
      for (const [other, cached] of cache) if (now >= cached.expiresAt) cache.delete(other)
    }
    cache.set(key, entry)
  }

  /** One `obtain` per key at a time: later callers wait for the running one. */
  const shared = (key: string, obtain: Effect.Effect<Authorization, RegistryError>) =>
    Effect.suspend(() => {
      const running = inFlight.get(key)
      if (running !== undefined) return Deferred.await(running)
      return Effect.gen(function*() {
        const deferred = yield* Deferred.make<Authorization, RegistryError>()
        inFlight.set(key, deferred)
        yield* obtain.pipe(
          Effect.tap((entry) => Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => remember(key, entry, now)))),
          Effect.intoDeferred(deferred),
          Effect.ensuring(Effect.sync(() => {
            if (inFlight.get(key) === deferred) inFlight.delete(key)
          })),
          Effect.forkDaemon
        )
        return yield* Deferred.await(deferred)
      })
    })

  const current: Authorizations["current"] = (key, renew) =>
    Effect.gen(function*() {
      const entry = cache.get(key)
      if (entry === undefined) return Option.none()
      const now = yield* Clock.currentTimeMillis
      if (now < entry.expiresAt) return Option.some(entry.header)
      if (entry.challenge === undefined) {
        cache.delete(key)
        return Option.none()
      }
      const challenge = entry.challenge
      return Option.some((yield* shared(key, renew(challenge))).header)
    })

  const replace: Authorizations["replace"] = (key, sent, obtain) =>
    Effect.gen(function*() {
      const entry = cache.get(key)
      const now = yield* Clock.currentTimeMillis
      if (entry !== undefined && now < entry.expiresAt && !sameHeader(entry.header, sent)) return entry.header
      if (entry !== undefined && sameHeader(entry.header, sent)) cache.delete(key)
      return (yield* shared(key, obtain)).header
    })

  return { current, replace }
})
