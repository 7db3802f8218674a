import { runHook, type Hook, type Middleware, type RequestHeaders, type StandaloneResult } from '@apigate/core';

/** Request headers from a plain record, case-insensitive as the adapters give them. */
export const headersOf = (init: Record<string, string>): RequestHeaders => {
  const map = new Map(Object.entries(init).map(([k, v]) => [k.toLowerCase(), v]));
  return { get: (n) => map.get(n.toLowerCase()), has: (n) => map.has(n.toLowerCase()), set: (n, v) => void map.set(n.toLowerCase(), v), delete: (n) => void map.delete(n.toLowerCase()) };
};

export interface Call {
  headers?: Record<string, string>;
  clientIp?: string | undefined;
  scope?: Record<PropertyKey, unknown>;
  url?: string;
}

/** Runs a limiter's request phase as the adapters do outside a gateway (no settle phase runs). */
export const call = (limiter: Middleware, request: Call = {}, renderer: 'json' | 'problem' = 'json'): Promise<StandaloneResult> => {
  const { headers = {}, scope = {}, url = '/x' } = request;
  const clientIp = 'clientIp' in request ? request.clientIp : '203.0.113.7';
  const values = new Map<PropertyKey, unknown>(Object.entries(scope));
  return runHook(limiter.request as Hook, { method: 'GET', url, headers: headersOf(headers), clientIp, scope: { get: (k) => values.get(k), set: (k, v) => void values.set(k, v) } }, renderer);
};

/** A refusal as a problem+json client sees it: status, media type, Retry-After and the parsed body. */
export const problemOf = (result: StandaloneResult): { status: number; type: unknown; retryAfter: unknown; body: unknown } => {
  if (result.next) throw new Error('the request was let through');
  const { body, headers, status } = result.response;
  return { status, type: headers['content-type'], retryAfter: headers['retry-after'], body: JSON.parse(String(body)) };
};
