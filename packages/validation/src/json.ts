import { GatewayError, type ErrorCode } from '@apigate/errors';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const invalid = (message: string, details?: Record<string, unknown>, cause?: unknown): GatewayError =>
  new GatewayError('invalid_json', { message, details, cause });

/** The deepest nesting of arrays and objects in JSON text, strings skipped; stops past `max`. */
const depthOf = (text: string, max: number): number => {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > deepest && (deepest = depth) > max) return deepest;
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--;
  }
  return deepest;
};

/**
 * Finds a `__proto__` key, or a `constructor` key whose value has `prototype`, anywhere, or
 * nesting deeper than `maxDepth` (counted as in JSON text: each array or object is a level).
 */
const findPoison = (root: unknown, maxDepth: number): { readonly key: string } | { readonly depth: number } | undefined => {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length > 0) {
    const [value, outer] = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    const depth = outer + 1;
    if (depth > maxDepth) return { depth };
    if (Array.isArray(value)) {
      for (const item of value) stack.push([item, depth]);
      continue;
    }
    for (const key of Object.keys(value)) {
      const child = (value as Record<string, unknown>)[key];
      if (key === '__proto__') return { key };
      if (key === 'constructor' && child !== null && typeof child === 'object' && Object.hasOwn(child, 'prototype')) return { key: 'constructor.prototype' };
      stack.push([child, depth]);
    }
  }
  return undefined;
};

/**
 * Refuses a parsed value (it may have come from a body parser) with prototype-poisoning keys or,
 * as its JSON text would be, nested deeper than `maxDepth`; with `code` (400).
 */
export const checkPoison = (value: unknown, code: ErrorCode = 'invalid_json', maxDepth = Number.POSITIVE_INFINITY): void => {
  const found = findPoison(value, maxDepth);
  if (found === undefined) return;
  if ('key' in found) throw new GatewayError(code, { message: `The key "${found.key}" is not allowed.`, details: { key: found.key } });
  throw new GatewayError(code, { message: `The JSON body is nested deeper than ${maxDepth} levels.`, details: { maxDepth } });
};

/**
 * Decodes and parses a JSON body: UTF-8 only, no BOM, not empty, nested at most `maxDepth`
 * levels, no prototype-poisoning keys. Every refusal is a 400 `invalid_json`.
 */
export const parseJson = (bytes: Uint8Array, maxDepth: number): unknown => {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) throw invalid('The JSON body must not start with a byte order mark.');
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (cause) {
    throw invalid('The request body is not valid UTF-8.', undefined, cause);
  }
  if (text.trim() === '') throw invalid('The request body is empty.');
  const depth = depthOf(text, maxDepth);
  if (depth > maxDepth) throw invalid(`The JSON body is nested deeper than ${maxDepth} levels.`, { maxDepth });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw invalid('The request body is not valid JSON.', { reason: (cause as Error).message }, cause);
  }
  if (text.includes('__proto__') || text.includes('constructor') || text.includes('\\u')) checkPoison(value);
  return value;
};
