import type { Backend, Middleware, ResponseHeaders } from '@apigate/core';

export interface RewriteLocationOptions {
  /**
   * The gateway's public origin (`https://api.example.com`), for absolute rewritten URLs. Without
   * it, a rewritten URL is origin-relative (`/sales/orders/7`), which every client resolves
   * against the URL it asked for (RFC 9110 §10.2.2): no guess at the public scheme behind a TLS
   * terminator, and a client's Host header cannot steer a redirect elsewhere.
   */
  origin?: string;
  /**
   * The public path the upstream's root maps to (`/sales`). By default it is found per request
   * where the route forwards the path under its prefix as it is (no `to`, or a `to` that keeps
   * the tail): `/sales/orders/7` sent up as `/orders/7` maps `/` back to `/sales/`. Where it
   * cannot be found, only the origin of the upstream's URLs is rewritten.
   */
  prefix?: string;
  /** The headers rewritten; default Location, Content-Location and Refresh. */
  headers?: readonly string[];
  /** The middleware's name; default `rewrite-location`. */
  name?: string;
}

/** What the request phase learns for the response phase: the backend and the path mapping. */
interface Seen {
  backend: Backend | undefined;
  prefix: string | undefined;
}

const seenKey = Symbol('rewrite-location');

/** The public prefix for a request forwarded as `uri` from `path`, when the tail went up as it is. */
const derivedPrefix = (path: string, uri: string): string | undefined => {
  const q = uri.indexOf('?');
  const upstream = q === -1 ? uri : uri.slice(0, q);
  if (upstream === '/') return path.endsWith('/') ? path.slice(0, -1) : path;
  return path.endsWith(upstream) ? path.slice(0, path.length - upstream.length) : undefined;
};

const schemeDefault = (protocol: string): string => (protocol === 'https:' ? '443' : '80');

/** The public form of one URL the upstream sent, or undefined to leave it as it is. */
const rewriteUrl = (value: string, backend: Backend, prefix: string | undefined, origin: string | undefined): string | undefined => {
  const trimmed = value.trim();
  let rest: string;
  if (trimmed.startsWith('/') && !trimmed.startsWith('//') && !trimmed.startsWith('/\\')) {
    rest = trimmed;
  } else {
    let url: URL;
    try {
      url = new URL(trimmed);
    } catch {
      return undefined;
    }
    const own = new URL(backend.origin);
    const port = (u: URL): string => u.port || schemeDefault(u.protocol);
    if (url.protocol !== own.protocol || url.hostname !== own.hostname || port(url) !== port(own) || url.username !== '' || url.password !== '') return undefined;
    // The path as the upstream wrote it (URL would normalize dot segments and encoding).
    const authority = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(trimmed)![0];
    rest = trimmed.slice(authority.length);
    if (rest === '' || rest.startsWith('?') || rest.startsWith('#')) rest = `/${rest}`;
  }
  if (prefix !== undefined) {
    const base = backend.basePath;
    if (base !== '') {
      if (rest === base || rest.startsWith(`${base}/`) || rest.startsWith(`${base}?`) || rest.startsWith(`${base}#`)) rest = rest.slice(base.length) || '/';
      // Outside the backend's base path: no public path stands for it.
      else return undefined;
    }
    rest = rest === '/' && prefix !== '' ? `${prefix}/` : `${prefix}${rest}`;
  } else if (rest === trimmed) {
    // A relative URL and no mapping: nothing to rewrite.
    return undefined;
  }
  return origin === undefined ? rest : `${origin}${rest}`;
};

/** Refresh is `<seconds>; url=<url>` (or `<seconds>, url=...`, or without `url=`). */
const refreshPart = /^(\s*\d+(?:\.\d*)?\s*[;,]\s*(?:url\s*=\s*)?)(['"]?)(.*?)\2\s*$/i;

const rewriteHeader = (headers: ResponseHeaders, header: string, rewrite: (value: string) => string | undefined): void => {
  const values = headers.values(header);
  if (values.length === 0) return;
  let changed = false;
  const out = values.map((value) => {
    let next: string | undefined;
    if (header === 'refresh') {
      const parts = refreshPart.exec(value);
      const url = parts === null ? undefined : rewrite(parts[3]!);
      next = url === undefined ? undefined : `${parts![1]}${parts![2]}${url}${parts![2]}`;
    } else {
      next = rewrite(value);
    }
    if (next === undefined) return value;
    changed = true;
    return next;
  });
  if (changed) headers.set(header, out.length === 1 ? out[0]! : out);
};

/**
 * Rewrites the URLs an upstream puts in `Location`, `Content-Location` and `Refresh` from its own
 * origin (and base path) to the gateway's public path (http-proxy-middleware's `autoRewrite` and
 * `hostRewrite`, NGINX's `proxy_redirect default`). URLs of other origins, and values that do not
 * parse, are left as they are.
 * @example
 * service({ prefix: '/sales', use: [rewriteLocation()] }, [all('/{*rest}')]) // Location: http://sales:8080/orders/7 → /sales/orders/7
 */
export const rewriteLocation = ({ origin, prefix, headers = ['location', 'content-location', 'refresh'], name = 'rewrite-location' }: RewriteLocationOptions = {}): Middleware => {
  let publicOrigin: string | undefined;
  if (origin !== undefined) {
    const parsed = new URL(origin);
    if (parsed.pathname !== '/' || parsed.search !== '' || parsed.hash !== '') throw new TypeError('rewriteLocation(): `origin` is an origin only (https://host[:port])');
    publicOrigin = parsed.origin;
  }
  if (prefix !== undefined && prefix !== '' && (!prefix.startsWith('/') || prefix.endsWith('/'))) throw new TypeError('rewriteLocation(): `prefix` starts with `/` and does not end with one');
  const names = headers.map((header) => header.toLowerCase());
  return {
    name,
    request: (ctx) => {
      const seen: Seen = { backend: undefined, prefix: prefix ?? derivedPrefix(ctx.path, ctx.uri) };
      // A symbol no other middleware can name; the scope takes any property key at run time.
      ctx.set(seenKey as unknown as string, seen);
    },
    upstream: (ctx) => {
      const seen = ctx.get(seenKey) as Seen | undefined;
      if (seen !== undefined) seen.backend = ctx.backend;
    },
    response: (ctx) => {
      if (ctx.gatewayMade) return;
      const seen = ctx.get(seenKey) as Seen | undefined;
      const backend = seen?.backend;
      if (backend === undefined) return;
      for (const header of names) rewriteHeader(ctx.headers, header, (value) => rewriteUrl(value, backend, seen!.prefix, publicOrigin));
    },
  };
};
