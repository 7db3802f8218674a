import type { Middleware } from '@apigate/core';

/**
 * How one cookie attribute is rewritten: a string replaces every value (`''` removes the
 * attribute), a record maps a value to its replacement with `'*'` for any other (values not in it
 * are kept), `false` leaves it alone.
 */
export type CookieRewrite = string | false | Readonly<Record<string, string>>;

export interface RewriteCookiesOptions {
  /** The `Domain` attribute (http-proxy-middleware's `cookieDomainRewrite`); compared case-insensitively, without a leading dot. */
  domain?: CookieRewrite;
  /** The `Path` attribute (`cookiePathRewrite`); compared as sent. */
  path?: CookieRewrite;
  /** The middleware's name; default `rewrite-cookies`. */
  name?: string;
}

type Rule = (value: string) => string | undefined;

const rule = (rewrite: CookieRewrite | undefined, fold: (value: string) => string): Rule | undefined => {
  if (rewrite === undefined || rewrite === false) return undefined;
  if (typeof rewrite === 'string') return () => rewrite;
  const table = new Map(Object.entries(rewrite).map(([from, to]) => [from === '*' ? from : fold(from), to]));
  return (value) => table.get(fold(value)) ?? table.get('*');
};

const foldDomain = (value: string): string => value.trim().replace(/^\./, '').toLowerCase();
const foldPath = (value: string): string => value.trim();

/**
 * Rewrites one Set-Cookie value; undefined to leave it as it is. A value without `name=` is not a
 * cookie (RFC 6265 §5.2 has user agents ignore it): it is passed on untouched, for the client to
 * ignore.
 */
const rewriteCookie = (cookie: string, domain: Rule | undefined, path: Rule | undefined): string | undefined => {
  const parts = cookie.split(';');
  if (!parts[0]!.includes('=')) return undefined;
  let changed = false;
  const out = [parts[0]!];
  for (const part of parts.slice(1)) {
    const eq = part.indexOf('=');
    const attribute = (eq === -1 ? part : part.slice(0, eq)).trim().toLowerCase();
    const apply = attribute === 'domain' ? domain : attribute === 'path' ? path : undefined;
    const next = apply === undefined || eq === -1 ? undefined : apply(part.slice(eq + 1));
    if (next === undefined) {
      out.push(part);
      continue;
    }
    changed = true;
    // An empty replacement removes the attribute: a host-only cookie, or the default path.
    if (next !== '') out.push(` ${attribute === 'domain' ? 'Domain' : 'Path'}=${next}`);
  }
  return changed ? out.join(';') : undefined;
};

/**
 * Rewrites the `Domain` and `Path` of the cookies an upstream sets, so that a browser sends them
 * back to the gateway (http-proxy-middleware's `cookieDomainRewrite` and `cookiePathRewrite`).
 * @example
 * rewriteCookies({ domain: { 'internal.example': 'api.example.com' }, path: { '/': '/sales/' } })
 */
export const rewriteCookies = ({ domain, path, name = 'rewrite-cookies' }: RewriteCookiesOptions): Middleware => {
  const domainRule = rule(domain, foldDomain);
  const pathRule = rule(path, foldPath);
  return {
    name,
    response: (ctx) => {
      if (ctx.gatewayMade || (domainRule === undefined && pathRule === undefined)) return;
      const cookies = ctx.headers.values('set-cookie');
      if (cookies.length === 0) return;
      let changed = false;
      const out = cookies.map((cookie) => {
        const next = rewriteCookie(cookie, domainRule, pathRule);
        if (next === undefined) return cookie;
        changed = true;
        return next;
      });
      if (changed) ctx.headers.set('set-cookie', out);
    },
  };
};
