import { GatewayBuildError } from '@apigate/errors';
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
