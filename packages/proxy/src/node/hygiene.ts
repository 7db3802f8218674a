import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { connectionListed, forwardingHeaders, hopByHop } from '../headers.ts';
export { trustMatcher } from '../trust.ts';

/** Strips an IPv4-mapped IPv6 prefix so `::ffff:127.0.0.1` reads as `127.0.0.1`. */
export const peerAddress = (req: IncomingMessage): string | undefined => {
  const address = req.socket.remoteAddress;
  return address?.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
};

const one = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value.join(', ') : value);

/**
 * Cleans the request headers in place before they go upstream: hop-by-hop and Connection-listed
 * headers out, forwarding headers set. A chunked body stays chunked (Node re-frames it).
 */
export const cleanRequestHeaders = (req: IncomingMessage, clientIp: string | undefined, trusted: boolean): void => {
  const headers = req.headers;
  const chunked = headers['transfer-encoding'] !== undefined;
  for (const name of connectionListed(headers.connection)) delete headers[name];
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
