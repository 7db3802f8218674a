import { memoryStore } from './memory-store.ts';
import type { LimitCheck, Outcome, RateLimitStore } from './store.ts';

// A rate-limit store for Cloudflare Workers: one Durable Object per subject (limiter + key). A
// Durable Object runs one request at a time, in one place in the world, so every worker isolate
// everywhere that limits this subject asks the same object, and its memory store decides exactly:
// a global limit, which the Workers rate-limit binding (counted per location) cannot give.
// Runtime-neutral: only the fetch API's Request and Response, no `cloudflare:workers` import, so
// the entry bundles anywhere and its types need neither the DOM lib nor @cloudflare/workers-types.

/** The request a stub is sent: a POST of the request's checks as JSON. */
export interface ObjectRequestInit {
  readonly method: 'POST';
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** The part of a Durable Object namespace binding that the store uses. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: never): { fetch(input: string, init: ObjectRequestInit): Promise<Response> };
}

/** Options of {@link durableObjectStore}. */
export interface DurableObjectStoreOptions {
  /** Milliseconds the limiter waits for the object's answer before its failure mode applies; default 1000. */
  timeout?: number;
}

/**
 * The Durable Object class: the limits of one subject, in its memory. Export it from the worker's
 * module and bind it (wrangler.toml `[[durable_objects.bindings]]`, a `new_classes` migration).
 * Counts live as long as the object does: an object left idle long enough for Cloudflare to evict
 * it starts its limits fresh (acceptable for windows of minutes; keep the state in
 * `state.storage` for long quotas).
 * @example export { RateLimitObject } from '@apigate/rate-limit/durable-object';
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
export const durableObjectStore = (namespace: DurableObjectNamespaceLike, { timeout = 1_000 }: DurableObjectStoreOptions = {}): RateLimitStore => ({
  // A round trip to the object may cross the world; the limiter's failure mode applies past this.
  timeout,
  consume: async (checks: readonly LimitCheck[]): Promise<readonly Outcome[]> => {
    const stub = namespace.get(namespace.idFromName(checks[0]!.subject) as never);
    const reply = await stub.fetch('https://rate-limit.internal/consume', { method: 'POST', body: JSON.stringify(checks), headers: { 'content-type': 'application/json' } });
    if (!reply.ok) throw new Error(`the rate-limit object answered ${reply.status}`);
    return (await reply.json()) as Outcome[];
  },
});
