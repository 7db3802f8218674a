import type { Env, Middleware } from '@apigate/core';
import { GatewayBuildError, GatewayError } from '@apigate/errors';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { base64url } from 'jose';
import { quotable } from '../internal/bearer.ts';
import { bytesOf, constantTimeEqual, utf8 } from '../internal/bytes.ts';
import { parseCookies, serializeCookies, unquote, type CookiePair } from '../internal/cookie-header.ts';
import { checkRealm } from '../scopes/scopes.ts';

/** The scope key signedCookies() puts the verified values under. */
export const signedCookiesKey = 'signedCookies';

/** What signedCookies() provides: the verified values of the signed cookies the request carried, by name. */
export interface SignedCookiesScope {
  readonly signedCookies: Readonly<Record<string, string>>;
}

/** Signs and verifies cookie values; the first key signs, every key verifies (rotation). */
export interface CookieSigner {
  /** `value.signature`, the signature an HMAC-SHA256 of `name=value` under the first key. */
  sign(name: string, value: string): string;
  /** The value when `signed` carries a valid signature for this name under any of the keys; undefined otherwise. */
  verify(name: string, signed: string): string | undefined;
}

/** The length of an unpadded base64url HMAC-SHA256. */
const signatureLength = 43;
const base64urlText = /^[A-Za-z0-9_-]+$/;
const cookieName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

const problem = (at: string, message: string): GatewayBuildError => new GatewayBuildError([{ code: 'invalid_option', at, message }]);

/**
 * A signer over HMAC-SHA256 keys, newest first: `sign` uses `keys[0]`, `verify` accepts a signature
 * of any of them, so that a key can be rotated in (put it first) and an old one out (remove it
 * once the cookies it signed expired). Synchronous, so that it can run in the response phase.
 * Each key must have 32 bytes or more.
 * @example
 * const signer = cookieSigner([env.COOKIE_KEY_2026, env.COOKIE_KEY_2025]);
 * signer.verify('session', signer.sign('session', 'abc')); // 'abc'
 */
export const cookieSigner = (keys: readonly (string | Uint8Array)[], at = 'cookieSigner()'): CookieSigner => {
  if (!Array.isArray(keys) || keys.length === 0) throw problem(at, '`keys` must be a non-empty list, the signing key first');
  const secrets = keys.map((key, i) => {
    const bytes = typeof key === 'string' || key instanceof Uint8Array ? bytesOf(key) : undefined;
    if (bytes === undefined || bytes.byteLength < 32) throw problem(at, `keys[${i}] must be a string or bytes of 32 bytes or more`);
    return bytes;
  });
  // The name is signed with the value: a value signed for one cookie is not valid for another.
  const mac = (secret: Uint8Array, name: string, value: string): Uint8Array => hmac(sha256, secret, utf8.encode(`${name}=${value}`));
  return {
    sign: (name, value) => `${value}.${base64url.encode(mac(secrets[0]!, name, value))}`,
    verify: (name, signed) => {
      const dot = signed.lastIndexOf('.');
      if (dot === -1) return undefined;
      const signature = signed.slice(dot + 1);
      if (signature.length !== signatureLength || !base64urlText.test(signature)) return undefined;
      let given: Uint8Array;
      try {
        given = base64url.decode(signature);
      } catch {
        return undefined;
      }
      const value = signed.slice(0, dot);
      // Every key is tried, without stopping at a match: how long it takes does not tell which key signed.
      let valid = false;
      for (const secret of secrets) valid = constantTimeEqual(mac(secret, name, value), given) || valid;
      return valid ? value : undefined;
    },
  };
};

export interface SignedCookiesOptions {
  /** HMAC-SHA256 keys of 32 bytes or more, the signing key first; the others only verify. */
  readonly keys: readonly (string | Uint8Array)[];
  /** The cookies that are signed: verified in the client's `Cookie`, signed in the upstream's `Set-Cookie`. */
  readonly names: readonly string[];
  /**
   * What a badly signed cookie (no signature, a malformed or truncated one, a key no longer listed,
   * sent twice) gets: `'strip'` drops it from what the upstream gets and goes on, as if it had not
   * been sent; `'reject'` answers 401 `invalid_cookie`. Default `'strip'`.
   */
  readonly onInvalid?: 'strip' | 'reject';
  /** Whether every named cookie must be there and valid; a missing one is then 401 `unauthorized`. Default false. */
  readonly required?: boolean;
  /** The realm of the `WWW-Authenticate: Cookie` challenge. Default `api`. */
  readonly realm?: string;
  /** The middleware's name, for `gateway.routes()` and error reports. Default `signed-cookies`. */
  readonly name?: string;
}

/** One Set-Cookie value with the cookie's value signed, or undefined when it is not one of ours. */
const signSetCookie = (header: string, names: ReadonlySet<string>, signer: CookieSigner): string | undefined => {
  const semicolon = header.indexOf(';');
  const pair = semicolon === -1 ? header : header.slice(0, semicolon);
  const eq = pair.indexOf('=');
  if (eq === -1) return undefined;
  const name = pair.slice(0, eq).trim();
  if (!names.has(name)) return undefined;
  const { value, quoted } = unquote(pair.slice(eq + 1).trim());
  // An empty value clears the cookie: there is nothing to sign, and the browser keeps nothing.
  if (value === '') return undefined;
  const signed = signer.sign(name, value);
  return `${name}=${quoted ? `"${signed}"` : signed}${semicolon === -1 ? '' : header.slice(semicolon)}`;
};

/**
 * Signs named cookies that the upstream sets and verifies them when the client sends them back:
 * in the response phase each named `Set-Cookie` value becomes `value.signature` (HMAC-SHA256 of
 * name and value, base64url); in the request phase each named cookie of the client's `Cookie` is
 * verified against every key, the upstream gets the value without its signature, and the verified
 * values land in scope under `signedCookies`. A badly signed cookie is dropped (`onInvalid:
 * 'strip'`, the default) or refused 401 `invalid_cookie` (`'reject'`).
 * @example
 * service({ prefix: '/app', use: [signedCookies({ keys: [env.COOKIE_KEY], names: ['session'] })] }, routes);
 */
export const signedCookies = (options: SignedCookiesOptions): Middleware<Env, SignedCookiesScope> => {
  if (typeof options !== 'object' || options === null) throw problem('signedCookies()', 'give signedCookies() its options: { keys, names }');
  const { keys, names, onInvalid = 'strip', required = false, realm = 'api', name = 'signed-cookies' } = options;
  const signer = cookieSigner(keys, 'signedCookies()');
  if (!Array.isArray(names) || names.length === 0 || !names.every((cookie) => typeof cookie === 'string' && cookieName.test(cookie) && quotable.test(cookie))) {
    throw problem('signedCookies()', '`names` must be a non-empty list of cookie names');
  }
  if (onInvalid !== 'strip' && onInvalid !== 'reject') throw problem('signedCookies()', "`onInvalid` is 'strip' or 'reject'");
  checkRealm(realm, 'signedCookies()');
  const signedNames = new Set(names);

  const challenge = (cookie: string, error?: string): string => `Cookie realm="${realm}", cookie-name="${cookie}"${error === undefined ? '' : `, error="${error}"`}`;

  return {
    name,
    describe: { security: { type: 'apiKey', in: 'cookie', name: names[0] }, realm, signed: [...names], onInvalid, required },
    request: function signedCookies(ctx) {
      const header = ctx.headers.get('cookie');
      const pairs = header === undefined ? [] : parseCookies(header);
      const counts = new Map<string, number>();
      for (const pair of pairs) if (signedNames.has(pair.name)) counts.set(pair.name, (counts.get(pair.name) ?? 0) + 1);
      const verified: Record<string, string> = {};
      const invalid: string[] = [];
      const forwarded: CookiePair[] = [];
      for (const pair of pairs) {
        if (!signedNames.has(pair.name)) {
          forwarded.push(pair);
          continue;
        }
        const { value: signed, quoted } = unquote(pair.value);
        // Sent twice (a sibling subdomain can set a second cookie of the name: cookie tossing): neither is trusted.
        const value = counts.get(pair.name) === 1 ? signer.verify(pair.name, signed) : undefined;
        if (value === undefined) {
          invalid.push(pair.name);
          continue;
        }
        verified[pair.name] = value;
        forwarded.push({ name: pair.name, value: quoted ? `"${value}"` : value });
      }
      if (invalid.length > 0 && onInvalid === 'reject') {
        return new GatewayError('invalid_cookie', { details: { reason: 'a signed cookie has no valid signature, or is sent more than once', cookies: [...new Set(invalid)] }, headers: { 'www-authenticate': challenge(invalid[0]!, 'invalid_cookie') } });
      }
      if (required) {
        const missing = names.find((cookie) => !(cookie in verified));
        if (missing !== undefined) return new GatewayError('unauthorized', { details: { reason: `no valid signed cookie ${missing}`, invalid }, headers: { 'www-authenticate': challenge(missing) } });
      }
      // A Cookie header without any of our cookies goes on exactly as the client sent it.
      if (header !== undefined && counts.size > 0) {
        if (forwarded.length === 0) ctx.headers.delete('cookie');
        else ctx.headers.set('cookie', serializeCookies(forwarded));
      }
      ctx.set(signedCookiesKey, Object.freeze(verified));
      return undefined;
    },
    response: (ctx) => {
      const values = ctx.headers.values('set-cookie');
      if (values.length === 0) return;
      let changed = false;
      const signed = values.map((value) => {
        const result = signSetCookie(value, signedNames, signer);
        if (result === undefined) return value;
        changed = true;
        return result;
      });
      if (changed) ctx.headers.set('set-cookie', signed);
    },
  };
};
