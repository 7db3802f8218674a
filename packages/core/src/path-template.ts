import { GatewayError } from '@apigate/errors';

/** The parameter names of a path template: `'/item/{id}/review'` → `'id'`. */
export type ParamNames<TPath extends string> = TPath extends `${string}{${infer Name}}${infer Rest}`
  ? Name | ParamNames<Rest>
  : never;

/** The typed path params of a template; a non-literal template gives a string record. */
export type PathParams<TPath extends string> = string extends TPath
  ? Record<string, string>
  : { [K in ParamNames<TPath>]: string };

type UnknownToParams<TPath extends string, TTo extends string> = string extends TPath
  ? never
  : string extends TTo
    ? never
    : Exclude<ParamNames<TTo>, ParamNames<TPath>>;

/**
 * Makes a `to` template that names a parameter its path lacks a compile error, with the name in the
 * message. Non-literal strings pass here and are checked by `build()`.
 */
export type CheckTo<TPath extends string, TTo extends string> = [UnknownToParams<TPath, TTo>] extends [never]
  ? unknown
  : { [K in `"to" names a parameter the path lacks: ${UnknownToParams<TPath, TTo> & string}`]: never };

export type Segment = { readonly kind: 'static'; readonly value: string } | { readonly kind: 'param'; readonly name: string };

const paramSegment = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;
const reservedNames = new Set(['__proto__', 'constructor', 'prototype']);
const unsafeInParam = /[/\\\0]/;

/** Splits a template into segments; throws a message naming the first malformed segment. */
export const parseTemplate = (template: string): Segment[] => {
  if (!template.startsWith('/')) throw new Error(`"${template}" must start with "/"`);
  const segments: Segment[] = [];
  for (const part of template.split('/').slice(1)) {
    if (part === '') continue;
    const param = paramSegment.exec(part);
    if (param && reservedNames.has(param[1]!)) throw new Error(`"${param[1]}" in "${template}" is not allowed as a parameter name`);
    if (param) segments.push({ kind: 'param', name: param[1]! });
    else if (part.includes('{') || part.includes('}')) throw new Error(`"${part}" in "${template}" is not a {param} segment`);
    else if (part === '.' || part === '..') throw new Error(`"${template}" has a dot segment`);
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
