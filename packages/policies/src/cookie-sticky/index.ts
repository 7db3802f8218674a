import type { Policy } from '@apigate/core';
import { consistentHashBalancer } from '../consistent-hash/consistent-hash.ts';
import { policy } from '../policy.ts';
import type { Strategy } from '../types.ts';

/** The value of cookie `name` in a Cookie header, as sent (not decoded); undefined when absent. */
export const readCookie = (header: string | undefined, name: string): string | undefined => {
  if (header === undefined) return undefined;
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
    const value = pair.slice(eq + 1).trim();
    return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  }
  return undefined;
};

/** A cookie's value is the affinity key; no cookie (or an empty one) gives none. */
export const byCookie = (name: string): Strategy => ({
  name: `cookie:${name}`,
  route: (request, backends) => ({ key: readCookie(request.headers.get('cookie'), name) || undefined, candidates: backends }),
});

/**
 * The same cookie value always reaches the same backend (consistent hashing).
 * @example createGateway({ policies: { bySession: cookieSticky('session') } })
 */
export const cookieSticky = (name: string): Policy => policy({ name: `cookie-sticky:${name}`, strategy: byCookie(name), balancer: consistentHashBalancer() });
