import { GatewayBuildError } from '@apigate/errors';
import type { ScopeRequirement } from '../scopes/scopes.ts';
import type { TokenSource } from './token.ts';

/** A header name as Node and fetch accept it. */
export const headerName = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A configuration mistake, thrown when the factory is called, before the first request. */
export const optionProblem = (at: string, message: string): GatewayBuildError => new GatewayBuildError([{ code: 'invalid_option', at, message }]);

export const sourceList = (from: readonly TokenSource[], at: string): readonly TokenSource[] => {
  if (!Array.isArray(from) || from.length === 0) throw optionProblem(at, '`from` must be a non-empty list of token sources');
  for (const source of from) {
    const ok =
      source === 'bearer' ||
      (typeof source === 'object' && source !== null && (('cookie' in source && headerName.test(String(source.cookie))) || ('query' in source && typeof source.query === 'string' && source.query !== '')));
    if (!ok) throw optionProblem(at, "`from` holds 'bearer', { cookie: name } or { query: name }");
  }
  return [...from];
};

export const nonNegative = (value: number | undefined, name: string, at: string, { integer = false }: { integer?: boolean } = {}): void => {
  if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value)))) throw optionProblem(at, `\`${name}\` must be a non-negative number`);
};

/** The claim → header mapping, checked: the targets are header names, never the credentials' own headers. */
export const claimHeaderList = (claimHeaders: Readonly<Record<string, string>>, at: string): readonly (readonly [string, string])[] => {
  const mapped = Object.entries(claimHeaders);
  for (const [claim, header] of mapped) {
    if (typeof header !== 'string' || !headerName.test(header)) throw optionProblem(at, `claimHeaders.${claim} must be a header name`);
    if (header.toLowerCase() === 'authorization' || header.toLowerCase() === 'cookie') throw optionProblem(at, `claimHeaders.${claim} may not be ${header}`);
  }
  return mapped;
};

/** What every bearer-token method (jwt(), introspection()) is configured with, the same way. */
export interface BearerOptions {
  /** The accepted `iss`: one or any of a list. Not checked when absent. */
  readonly issuer?: string | readonly string[];
  /** The accepted `aud`: the token (or the answer about it) must name one of them. Not checked when absent. */
  readonly audience?: string | readonly string[];
  /** Leeway for `exp` and `nbf` (and jwt()'s `iat`), in seconds. Default 60 (as Envoy). */
  readonly clockTolerance?: number;
  /** Scopes every request must have (the `scope` or `scp` claim), else 403 `insufficient_scope`. */
  readonly scopes?: ScopeRequirement;
  /** The realm of the `WWW-Authenticate` challenge. Default `api`. */
  readonly realm?: string;
  /** Where the token is read, in this order. Default `['bearer']` (`Authorization: Bearer`). */
  readonly from?: readonly TokenSource[];
  /**
   * Claims sent upstream as headers, `{ sub: 'x-user-id' }`. A header of that name the client
   * sent is always removed first, so the upstream can trust it.
   */
  readonly claimHeaders?: Readonly<Record<string, string>>;
  /** Whether the token goes on to the upstream (header, cookie or query parameter). Default false. */
  readonly forwardToken?: boolean;
  /** Longer tokens are refused before any decoding or call, in characters. Default 8192. */
  readonly maxTokenLength?: number;
  /** The middleware's name, for `gateway.routes()` and error reports. Default `jwt` or `introspection`. */
  readonly name?: string;
}
