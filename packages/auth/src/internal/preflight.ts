import type { RequestContext } from '@apigate/core';

/**
 * A CORS preflight (Fetch standard): `OPTIONS` with `Access-Control-Request-Method`. Browsers send it
 * without credentials, so an auth check on it can only fail; the upstream's CORS handling answers it.
 */
export const isPreflight = (context: Pick<RequestContext, 'method' | 'headers'>): boolean => context.method === 'OPTIONS' && context.headers.has('access-control-request-method');
