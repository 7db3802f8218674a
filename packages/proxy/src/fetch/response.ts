import type { GatewayResponse } from '@apigate/errors';

/** A gateway-made response (rendered error or a hook's own) as a Web Response. */
export const toWebResponse = (method: string, response: GatewayResponse, close = false): Response => {
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (typeof value === 'string') headers.set(name, value);
    else for (const one of value) headers.append(name, one);
  }
  if (close) headers.set('connection', 'close');
  const body = method === 'HEAD' || response.status === 204 || response.status === 304 ? null : (response.body as BodyInit | null);
  return new Response(body, { status: response.status, headers });
};
