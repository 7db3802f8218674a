import { memoryStore, type LimitCheck, type Outcome, type RateLimitStore } from '@apigate/rate-limit';

// A rate-limit store for Cloudflare Workers: one Durable Object per subject (limiter + key). A
// Durable Object runs one request at a time, in one place in the world, so every worker isolate
// everywhere that limits this subject asks the same object, and its memory store decides exactly:
// a global limit, which the Workers rate-limit binding (counted per location) cannot give.

/** The part of a Durable Object namespace binding that the store uses. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: never): { fetch(input: string, init: RequestInit): Promise<Response> };
}

/**
 * The Durable Object class (bound as RATE_LIMITER in wrangler.toml): the limits of one subject, in
 * its memory. Counts live as long as the object does: an object left idle long enough for
 * Cloudflare to evict it starts its limits fresh (acceptable for windows of minutes; keep the state
 * in `state.storage` for long quotas).
 */
export class RateLimitObject {
  // One subject's limits: a handful of keys, one per limit.
  readonly #store = memoryStore({ maxKeys: 64 });

  async fetch(request: Request): Promise<Response> {
    const checks = (await request.json()) as LimitCheck[];
    return Response.json(this.#store.consume(checks));
  }
}

/**
 * A RateLimitStore on a RateLimitObject namespace: one round trip to the subject's object per
 * request, all of the request's limits in it.
 * @example rateLimit({ limits, store: durableObjectStore(env.RATE_LIMITER) })
 */
export const durableObjectStore = (namespace: DurableObjectNamespaceLike, { timeout = 1_000 }: { timeout?: number } = {}): RateLimitStore => ({
  // A round trip to the object may cross the world; the limiter's failure mode applies past this.
  timeout,
  consume: async (checks: readonly LimitCheck[]): Promise<readonly Outcome[]> => {
    const stub = namespace.get(namespace.idFromName(checks[0]!.subject) as never);
    const reply = await stub.fetch('https://rate-limit.internal/consume', { method: 'POST', body: JSON.stringify(checks), headers: { 'content-type': 'application/json' } });
    if (!reply.ok) throw new Error(`the rate-limit object answered ${reply.status}`);
    return (await reply.json()) as Outcome[];
  },
});
