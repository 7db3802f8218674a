import type { RequestContext, ScopeReader } from '@apigate/core';

// A limiter keeps its per-request note under a symbol of its own: no key a user or another
// middleware picks can collide with it. The typed scope API has no symbol keys, hence the casts.
export const setScope = (ctx: RequestContext, slot: symbol, value: unknown): void => (ctx.set as (key: PropertyKey, value: unknown) => void)(slot, value);

export const readScope = <T>(reader: ScopeReader, slot: symbol): T | undefined => reader.get(slot) as T | undefined;
