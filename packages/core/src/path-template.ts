import { GatewayError } from '@apigate/errors';

/** The names between braces, as written: `'{id}'` → `'id'`, a catch-all `'{*rest}'` → `'*rest'`. */
type RawNames<TPath extends string> = TPath extends `${string}{${infer Name}}${infer Rest}` ? Name | RawNames<Rest> : never;
type Bare<TName> = TName extends `*${infer Name}` ? Name : TName;

/** The parameter names of a path template: `'/item/{id}/review'` → `'id'`, `'/files/{*rest}'` → `'rest'`. */
export type ParamNames<TPath extends string> = Bare<RawNames<TPath>>;

/** The typed path params of a template; a non-literal template gives a string record. */
export type PathParams<TPath extends string> = string extends TPath
  ? Record<string, string>
  : { [K in ParamNames<TPath>]: string };

type UnknownToParams<TPath extends string, TTo extends string> = string extends TPath
  ? never
  : string extends TTo
    ? never
    : Exclude<RawNames<TTo>, RawNames<TPath>>;

/** The unknown names of a `to` that the path has, but as the other kind (`{rest}` for `{*rest}`). */
type MiswrittenToParams<TPath extends string, TTo extends string> = Bare<UnknownToParams<TPath, TTo>> & ParamNames<TPath>;

/**
 * Makes a `to` template that names a parameter its path lacks a compile error, with the name in the
 * message; a catch-all is written `{*rest}` in `to` as in the path. Non-literal strings pass here and
 * are checked by `build()`.
 */
export type CheckTo<TPath extends string, TTo extends string> = [UnknownToParams<TPath, TTo>] extends [never]
  ? unknown
  : [MiswrittenToParams<TPath, TTo>] extends [never]
    ? { [K in `"to" names a parameter the path lacks: ${Bare<UnknownToParams<TPath, TTo>> & string}`]: never }
    : { [K in `"to" writes a catch-all as {*name} and a parameter as {name}, as the path does: ${MiswrittenToParams<TPath, TTo> & string}`]: never };

export type Segment =
  | { readonly kind: 'static'; readonly value: string }
  | { readonly kind: 'param'; readonly name: string }
  /** `{*name}`: the rest of the path, one segment or more, or none. */
  | { readonly kind: 'tail'; readonly name: string };

const paramSegment = /^\{(\*?)([A-Za-z_][A-Za-z0-9_]*)\}$/;
const reservedNames = new Set(['__proto__', 'constructor', 'prototype']);
const unsafeInParam = /[/\\\0]/;

/** Splits a template into segments; throws a message naming the first malformed segment. */
export const parseTemplate = (template: string): Segment[] => {
  if (!template.startsWith('/')) throw new Error(`"${template}" must start with "/"`);
  const segments: Segment[] = [];
  for (const part of template.split('/').slice(1)) {
    if (part === '') continue;
    const param = paramSegment.exec(part);
    if (param && reservedNames.has(param[2]!)) throw new Error(`"${param[2]}" in "${template}" is not allowed as a parameter name`);
    if (param) segments.push({ kind: param[1] === '*' ? 'tail' : 'param', name: param[2]! });
    else if (part.includes('{') || part.includes('}')) throw new Error(`"${part}" in "${template}" is not a {param} or {*param} segment`);
    else if (part === '.' || part === '..') throw new Error(`"${template}" has a dot segment`);
    else if (part === '*' || part === '**') throw new Error(`"${template}" has a wildcard "${part}": the rest of a path is written {*name}`);
    else segments.push({ kind: 'static', value: part });
  }
  return segments;
};

/**
 * Decodes one raw path segment for use as a parameter. Refuses what could change the upstream path
 * once substituted: malformed percent-encoding, encoded slashes or backslashes, NUL, and dot
 * segments.
 */
export const decodeParam = (raw: string, name: string): string => {
  let value: string;
  try {
    value = raw.includes('%') ? decodeURIComponent(raw) : raw;
  } catch (cause) {
    throw new GatewayError('invalid_path', { message: 'The request path has malformed percent-encoding.', details: { param: name, raw }, cause });
  }
  if (value === '.' || value === '..' || unsafeInParam.test(value)) {
    throw new GatewayError('invalid_path', { details: { param: name, raw } });
  }
  return value;
};

/** A catch-all's tail, checked: what hooks see and what goes upstream. */
export interface Tail {
  /** The tail as the client sent it: `''`, `'/'` or `'/a/b'`, from the slash after the fixed segments. */
  readonly raw: string;
  /** Decoded per segment and joined with `/`, without the leading and trailing slash: `'a/b'`. */
  readonly value: string;
  /** The raw tail with its percent-encoding kept; characters a path may not carry are encoded. */
  readonly emitted: string;
}

// RFC 3986 pchar plus `%`: what a path segment may carry as it is.
const notPathChar = /[^A-Za-z0-9\-._~!$&'()*+,;=:@%]/u;
const notPathChars = new RegExp(notPathChar.source, 'gu');

/**
 * Checks a catch-all's raw tail segment by segment, exactly as decodeParam checks one parameter;
 * an empty segment (`//`, the start of `//host` or `http://host`) is refused as well. Only the last
 * segment may be empty: a trailing slash, kept upstream.
 */
export const decodeTail = (raw: string, name: string): Tail => {
  if (raw === '' || raw === '/') return { raw, value: '', emitted: raw };
  const parts = raw.slice(1).split('/');
  const last = parts.length - 1;
  let value = '';
  for (let i = 0; i <= last; i++) {
    const part = parts[i]!;
    if (part === '') {
      if (i === last) break;
      throw new GatewayError('invalid_path', { details: { param: name, raw } });
    }
    const decoded = decodeParam(part, name);
    value = i === 0 ? decoded : `${value}/${decoded}`;
    if (notPathChar.test(part)) parts[i] = encodeRaw(part, name);
  }
  return { raw, value, emitted: `/${parts.join('/')}` };
};

/** Percent-encodes what a lenient HTTP parser let through raw (`"`, `#`, `|`), keeping the escapes there are. */
const encodeRaw = (part: string, name: string): string => {
  try {
    return part.replace(notPathChars, encodeURIComponent);
  } catch (cause) {
    // A lone surrogate: no UTF-8 for it, so no encoding either.
    throw new GatewayError('invalid_path', { details: { param: name, raw: part }, cause });
  }
};
