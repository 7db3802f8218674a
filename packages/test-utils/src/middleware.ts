import type { Middleware } from '@apigate/core';
import { unauthorized } from '@apigate/errors';

/**
 * One middleware with every phase, for the "a middleware as plain framework middleware" suites of
 * each adapter: its request phase refuses `x-deny` and puts a tier in scope; its response phase
 * stamps the tier and a cookie on whatever response the app writes (its own refusals too); its
 * settle phase records how each response ended.
 */
export const tierMiddleware = (settled: string[]): Middleware => ({
  name: 'tier',
  request: (ctx) => {
    if (ctx.headers.has('x-deny')) return unauthorized();
    ctx.set('tier', 'pro');
    ctx.headers.set('x-tier-seen', 'yes');
    return undefined;
  },
  response: (ctx) => {
    ctx.headers.set('x-tier', String(ctx.get('tier') ?? 'none'));
    ctx.headers.append('set-cookie', 'tier=1; Path=/');
  },
  settle: (event) => void settled.push(`${event.method} ${event.path} ${event.status ?? event.error?.code}`),
});

/** A middleware whose response phase throws: the response must still go out. */
export const brokenResponse: Middleware = {
  name: 'broken',
  response: () => {
    throw new Error('the response phase failed');
  },
};
