/**
 * Header hygiene shared by every transport: which headers never cross the gateway, and the
 * forwarding headers it sets. Runtime-neutral.
 */
import { GatewayError } from '@apigate/errors';

/** Hop-by-hop headers (RFC 9110 §7.6.1, plus the proxy-auth pair): dropped in both directions. */
export const hopByHop: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The header names a `Connection` value lists, lower-cased; `close`/`keep-alive` included. */
export const connectionListed = (value: string | readonly string[] | undefined): string[] => {
  if (value === undefined) return [];
  // The values nearly every request and response carry, without splitting.
  if (value === 'keep-alive' || value === 'close') return [value];
  const joined = typeof value === 'string' ? value : value.join(',');
  return joined
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '');
};

/**
 * What a sender's `Connection` header cannot make hop-by-hop: the message's framing and its target.
 * A client listing `content-length` would otherwise strip its body's length from the forwarded
 * request, and one listing `host` the gateway's view of the authority.
 */
const framing: ReadonlySet<string> = new Set(['content-length', 'transfer-encoding', 'host']);

/** Every hop-by-hop header but Transfer-Encoding, the body's framing, which transports re-frame. */
export const hopByHopButFraming: readonly string[] = [...hopByHop].filter((name) => name !== 'transfer-encoding');

const none: readonly string[] = [];

/**
 * The headers a sender's `Connection` value makes hop-by-hop for the sender's own message, less
 * the framing ones and the hop-by-hop ones already dropped. They are removed from what the sender
 * sent before any hook or middleware runs, so they never remove a header the gateway or a hook
 * sets later.
 */
export const connectionDropped = (value: string | readonly string[] | undefined): readonly string[] => {
  if (value === undefined || value === 'keep-alive' || value === 'close') return none;
  // `close` is a connection option, not a header name.
  return connectionListed(value).filter((name) => name !== 'close' && !framing.has(name) && !hopByHop.has(name));
};

/**
 * The refusal of a request whose Transfer-Encoding cannot be forwarded as it is; undefined for
 * none or `chunked` alone. Any other coding (`gzip, chunked`) is answered 501, as NGINX does:
 * relaying the body de-chunked under a plain `chunked` would change its meaning in transit.
 */
export const transferCodingRefusal = (value: string | null | undefined): GatewayError | undefined => {
  if (value === undefined || value === null || value === 'chunked' || value.trim().toLowerCase() === 'chunked') return undefined;
  return new GatewayError('not_implemented', { message: "The request body's transfer coding is not supported.", details: { transferEncoding: value } });
};

/** What the forwarding headers are computed from. */
export interface ForwardingInput {
  /** The peer address of the connection (already without an IPv4-mapped `::ffff:` prefix). */
  readonly clientIp: string | undefined;
  /** Whether the peer is a configured trusted proxy. */
  readonly trusted: boolean;
  readonly proto: 'http' | 'https';
  readonly host: string | undefined;
  readonly xForwardedFor: string | undefined;
  readonly xForwardedProto: string | undefined;
  readonly xForwardedHost: string | undefined;
  /** A trusted proxy's X-Forwarded-Port, kept as it is; absent from callers that predate it. */
  readonly xForwardedPort?: string | undefined;
  readonly forwarded: string | undefined;
}

export interface ForwardingHeaders {
  'x-forwarded-for'?: string;
  'x-forwarded-proto': string;
  'x-forwarded-host'?: string;
  'x-forwarded-port': string;
  forwarded: string;
}

const tokenChars = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const quoteNow = (value: string): string => (tokenChars.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`);
// A gateway sees the same few Host values over and over: the last one is remembered.
let lastHost = '';
let lastQuoted = quoteNow(lastHost);
const quote = (value: string): string => {
  if (value !== lastHost) {
    lastQuoted = quoteNow(value);
    lastHost = value;
  }
  return lastQuoted;
};
const forwardedNode = (ip: string | undefined): string => {
  if (ip === undefined) return 'unknown';
  return ip.includes(':') ? `"[${ip}]"` : ip;
};

const hostPort = /:(\d{1,5})$/;
// Remembered like the quoted host: the regular expression ran on every forwarded request.
let lastPortHost = '';
let lastPort: string | undefined;
/** The port a Host value names (`api.example:8443`, `[::1]:8080`), or undefined for none. */
const portOf = (host: string | undefined): string | undefined => {
  if (host === undefined) return undefined;
  if (host !== lastPortHost) {
    lastPort = hostPort.exec(host)?.[1];
    lastPortHost = host;
  }
  return lastPort;
};

/**
 * X-Forwarded-For/-Proto/-Host/-Port and RFC 7239 Forwarded for the upstream request. A trusted peer's
 * incoming values are kept and extended; anyone else's are replaced, so a client cannot spoof them.
 */
export const forwardingHeaders = (input: ForwardingInput): ForwardingHeaders => {
  const { clientIp, trusted, proto, host } = input;
  const forFor = clientIp === undefined ? input.xForwardedFor : trusted && input.xForwardedFor ? `${input.xForwardedFor}, ${clientIp}` : clientIp;
  const forProto = (trusted && input.xForwardedProto) || proto;
  const forHost = (trusted && input.xForwardedHost) || host;
  // The port the client addressed: a trusted proxy's word, else the one in the Host it used (the
  // forwarded one when a trusted proxy gave it), else the scheme's default, as http-proxy does.
  const forPort = (trusted && input.xForwardedPort) || portOf(forHost) || (forProto === 'https' ? '443' : '80');
  let element = `for=${forwardedNode(clientIp)};proto=${proto}`;
  if (host !== undefined) element += `;host=${quote(host)}`;
  const headers: ForwardingHeaders = {
    'x-forwarded-proto': forProto,
    'x-forwarded-port': forPort,
    forwarded: trusted && input.forwarded ? `${input.forwarded}, ${element}` : element,
  };
  if (forFor !== undefined && (trusted || clientIp !== undefined)) headers['x-forwarded-for'] = forFor;
  if (forHost !== undefined) headers['x-forwarded-host'] = forHost;
  return headers;
};
