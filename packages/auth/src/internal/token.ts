import type { RequestContext } from '@apigate/core';

/**
 * Where a token may come from: `'bearer'` (`Authorization: Bearer …`), a cookie, or a query
 * parameter (tokens in URLs end up in access logs: only when asked for).
 */
export type TokenSource = 'bearer' | { readonly cookie: string } | { readonly query: string };

/** What the request carried: a token and where it was, malformed credentials, or none. */
export type Found =
  | { readonly kind: 'token'; readonly token: string; readonly source: TokenSource }
  | { readonly kind: 'malformed'; readonly reason: string }
  | { readonly kind: 'none' };

const none: Found = { kind: 'none' };
const malformed = (reason: string): Found => ({ kind: 'malformed', reason });

/** RFC 9110 token68, which RFC 6750's b64token is. */
const token68 = /^[A-Za-z0-9\-._~+/]+=*$/;
/** `scheme SP rest`: a request whose Authorization has another scheme carries no bearer credentials. */
const authorization = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?: +(.*))?$/;

const fromBearer = (context: RequestContext): Found => {
  const header = context.headers.get('authorization');
  if (header === undefined || header === '') return none;
  const match = authorization.exec(header);
  if (match === null) return malformed('the Authorization header is not `scheme credentials`');
  if (match[1]!.toLowerCase() !== 'bearer') return none;
  const token = match[2];
  if (token === undefined || token === '') return malformed('Authorization: Bearer without a token');
  // Two Authorization headers arrive joined by `, `, which no token68 holds.
  if (!token68.test(token)) return malformed('the bearer token has characters a token cannot have');
  return { kind: 'token', token, source: 'bearer' };
};

/** The values of the cookie `name` in a Cookie header, in order. */
const cookieValues = (header: string, name: string): string[] => {
  const values: string[] = [];
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq === -1 || pair.slice(0, eq).trim() !== name) continue;
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    values.push(value);
  }
  return values;
};

const fromCookie = (context: RequestContext, name: string): Found => {
  const header = context.headers.get('cookie');
  if (header === undefined) return none;
  const values = cookieValues(header, name).filter((value) => value !== '');
  if (values.length === 0) return none;
  if (values.length > 1) return malformed(`the token cookie ${name} is sent more than once`);
  if (!token68.test(values[0]!)) return malformed(`the token cookie ${name} has characters a token cannot have`);
  return { kind: 'token', token: values[0]!, source: { cookie: name } };
};

const decoded = (part: string): string | undefined => {
  try {
    return decodeURIComponent(part.replaceAll('+', ' '));
  } catch {
    return undefined;
  }
};

/** The parts of a query string that are the parameter `name`. */
const isParam = (part: string, name: string): boolean => {
  const eq = part.indexOf('=');
  return decoded(eq === -1 ? part : part.slice(0, eq)) === name;
};

const fromQuery = (context: RequestContext, name: string): Found => {
  if (context.query === '') return none;
  const parts = context.query.split('&').filter((part) => isParam(part, name));
  const values = parts.map((part) => (part.includes('=') ? decoded(part.slice(part.indexOf('=') + 1)) : ''));
  if (values.some((value) => value === undefined)) return malformed(`the query parameter ${name} has malformed percent-encoding`);
  const present = values.filter((value) => value !== '') as string[];
  if (present.length === 0) return none;
  if (present.length > 1) return malformed(`the query parameter ${name} is sent more than once`);
  if (!token68.test(present[0]!)) return malformed(`the query parameter ${name} has characters a token cannot have`);
  return { kind: 'token', token: present[0]!, source: { query: name } };
};

const readOne = (context: RequestContext, source: TokenSource): Found =>
  source === 'bearer' ? fromBearer(context) : 'cookie' in source ? fromCookie(context, source.cookie) : fromQuery(context, source.query);

/**
 * The token from the configured sources. Malformed credentials anywhere, or a token in more than
 * one place, is RFC 6750's `invalid_request`: the request is answered 400, not guessed at.
 */
export const readToken = (context: RequestContext, sources: readonly TokenSource[]): Found => {
  let found: Found = none;
  for (const source of sources) {
    const one = readOne(context, source);
    if (one.kind === 'malformed') return one;
    if (one.kind === 'none') continue;
    if (found.kind === 'token') return malformed('a token is sent in more than one place');
    found = one;
  }
  return found;
};

/** Removes the credential the token came in, so that the upstream never sees it. */
export const removeToken = (context: RequestContext, source: TokenSource): void => {
  if (source === 'bearer') {
    context.headers.delete('authorization');
    return;
  }
  if ('cookie' in source) {
    const header = context.headers.get('cookie') ?? '';
    const rest = header
      .split(';')
      .filter((pair) => {
        const eq = pair.indexOf('=');
        return eq === -1 || pair.slice(0, eq).trim() !== source.cookie;
      })
      .map((pair) => pair.trim())
      .filter((pair) => pair !== '');
    if (rest.length === 0) context.headers.delete('cookie');
    else context.headers.set('cookie', rest.join('; '));
    return;
  }
  const uri = context.uri;
  const q = uri.indexOf('?');
  if (q === -1) return;
  const kept = uri
    .slice(q + 1)
    .split('&')
    .filter((part) => part !== '' && !isParam(part, source.query));
  context.uri = kept.length === 0 ? uri.slice(0, q) : `${uri.slice(0, q)}?${kept.join('&')}`;
};

/** How `describe` names a source. */
export const describeSource = (source: TokenSource): string => (source === 'bearer' ? 'header:authorization' : 'cookie' in source ? `cookie:${source.cookie}` : `query:${source.query}`);
