import { GatewayError, type ErrorCode } from '@apigate/errors';

/** A parsed query or form: one string per key, an array for a repeated key. */
export type Pairs = Record<string, string | string[]>;

/** Keys that could reach an object's prototype in a parser downstream; never passed on. */
const poisonous = /(?:^|[[\].])(?:__proto__|constructor|prototype)(?:$|[[\].])/;

/**
 * Parses `a=1&b=x&b=y` (query strings and urlencoded bodies): `+` is a space, repeated keys make
 * arrays. Malformed percent-encoding, invalid UTF-8 and prototype-poisoning keys are refused with
 * `code`. The result has no prototype.
 */
export const parsePairs = (text: string, code: ErrorCode): Pairs => {
  const pairs: Pairs = Object.create(null) as Pairs;
  if (text === '') return pairs;
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    let key: string;
    let value: string;
    try {
      key = decodeURIComponent((eq === -1 ? part : part.slice(0, eq)).replaceAll('+', ' '));
      value = eq === -1 ? '' : decodeURIComponent(part.slice(eq + 1).replaceAll('+', ' '));
    } catch (cause) {
      throw new GatewayError(code, { message: 'Malformed percent-encoding or invalid UTF-8.', details: { part: part.slice(0, 200) }, cause });
    }
    if (poisonous.test(key)) throw new GatewayError(code, { message: `The key "${key.slice(0, 100)}" is not allowed.`, details: { key } });
    const previous = pairs[key];
    // Appended in place: copying the array per repeat made `a=&a=&…` (a 2 MiB form) quadratic.
    if (previous === undefined) pairs[key] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else pairs[key] = [previous, value];
  }
  return pairs;
};

type Scalar = string | number | boolean | bigint;

/** Serializes a flat record (a query or form map's output): arrays repeat the key, null/undefined are left out. */
export const serializePairs = (record: object): string => {
  const out = new URLSearchParams();
  for (const key of Object.keys(record)) {
    const value = (record as Record<string, unknown>)[key];
    if (value === undefined || value === null) continue;
    for (const item of Array.isArray(value) ? value : [value]) {
      if (item !== null && typeof item === 'object') {
        throw new GatewayError('internal', { details: { reason: `a query or form map returned a nested value at "${key}"` } });
      }
      out.append(key, String(item as Scalar));
    }
  }
  return out.toString();
};
