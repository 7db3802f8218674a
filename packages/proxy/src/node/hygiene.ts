import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { connectionDropped, connectionListed, forwardingHeaders, hopByHop, hopByHopButFraming } from '@apigate/core/exchange';
export { trustMatcher } from '@apigate/core/exchange';

/** Strips an IPv4-mapped IPv6 prefix so `::ffff:127.0.0.1` reads as `127.0.0.1`. */
export const peerAddress = (req: IncomingMessage): string | undefined => {
  const address = req.socket.remoteAddress;
  return address?.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
};

const one = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value.join(', ') : value);

/**
 * Drops, in place, what the client sent that must not cross the gateway: the hop-by-hop headers
 * and the ones its `Connection` lists. Called before any hook runs, so a client's `Connection:
 * authorization` removes the client's Authorization, never the one a hook sets; framing headers
 * are never removed by a client's token. Transfer-Encoding stays until the body is decided.
 */
export const dropClientHopByHop = (headers: IncomingHttpHeaders): void => {
  const listed = connectionDropped(headers.connection);
  for (const name of hopByHopButFraming) if (headers[name] !== undefined) delete headers[name];
  for (const name of listed) delete headers[name];
};

/**
 * Readies the request headers in place to go upstream, after the hooks: the body's framing (a
 * chunked body stays chunked; Node re-frames it), no hop-by-hop header a hook may have set, the
 * forwarding headers. The client's own hop-by-hop headers went before the hooks ran.
 */
export const cleanRequestHeaders = (req: IncomingMessage, clientIp: string | undefined, trusted: boolean): void => {
  const headers = req.headers;
  const chunked = headers['transfer-encoding'] !== undefined;
  for (const name of hopByHop) if (headers[name] !== undefined) delete headers[name];
  if (chunked && headers['content-length'] === undefined) headers['transfer-encoding'] = 'chunked';
  // Node's server already answered `Expect: 100-continue`; the upstream gets the body directly.
  delete headers.expect;
  const forwarding = forwardingHeaders({
    clientIp,
    trusted,
    proto: (req.socket as TLSSocket).encrypted ? 'https' : 'http',
    host: headers.host,
    xForwardedFor: one(headers['x-forwarded-for']),
    xForwardedProto: one(headers['x-forwarded-proto']),
    xForwardedHost: one(headers['x-forwarded-host']),
    xForwardedPort: one(headers['x-forwarded-port']),
    forwarded: one(headers.forwarded),
  });
  delete headers['x-forwarded-for'];
  delete headers['x-forwarded-host'];
  Object.assign(headers, forwarding);
};

/** The upstream response headers minus hop-by-hop and Connection-listed ones. */
export const cleanResponseHeaders = (headers: IncomingHttpHeaders): OutgoingHttpHeaders => {
  // Usually just `keep-alive` or `close`, which the hop-by-hop set already covers.
  const named = connectionListed(headers.connection).filter((name) => !hopByHop.has(name));
  const listed = named.length === 0 ? undefined : new Set(named);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (hopByHop.has(name) || listed?.has(name)) continue;
    out[name] = headers[name];
  }
  return out;
};
