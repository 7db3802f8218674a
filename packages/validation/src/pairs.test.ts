import { describe, expect, it } from '@jest/globals';
import { isGatewayError, type ErrorCode } from '@apigate/errors';
import { parsePairs, serializePairs } from './pairs.ts';

const refusal = (text: string, code: ErrorCode): { code: string; status: number; message: string } => {
  try {
    parsePairs(text, code);
  } catch (error) {
    if (isGatewayError(error)) return { code: error.code, status: error.status, message: error.message };
    throw error;
  }
  throw new Error(`parsePairs accepted ${JSON.stringify(text)}`);
};

describe('parsePairs', () => {
  it('parses key=value pairs, decoding percent-encoding and reading + as a space', () => {
    expect({ ...parsePairs('a=1&b=hello+world&c=%C3%A9t%C3%A9&d=a%2Bb&e+f=%20', 'invalid_query') }).toEqual({ a: '1', b: 'hello world', c: 'été', d: 'a+b', 'e f': ' ' });
  });

  it('turns repeated keys into arrays, in order', () => {
    expect({ ...parsePairs('tag=a&x=1&tag=b&tag=c', 'invalid_query') }).toEqual({ tag: ['a', 'b', 'c'], x: '1' });
  });

  it('parses a body of 500 000 repeated keys into one array (linear, not quadratic, in the repeats)', () => {
    const tags = parsePairs('tag=x&'.repeat(500_000), 'invalid_form').tag;
    expect(Array.isArray(tags) && tags.length).toBe(500_000);
  });

  it('skips empty parts and reads a part without = as an empty value', () => {
    expect({ ...parsePairs('&a=1&&flag&b=&=v&', 'invalid_query') }).toEqual({ a: '1', flag: '', b: '', '': 'v' });
    expect({ ...parsePairs('', 'invalid_query') }).toEqual({});
  });

  it('keeps everything after the first = in the value', () => {
    expect({ ...parsePairs('q=a=b=c', 'invalid_query') }).toEqual({ q: 'a=b=c' });
  });

  it('returns an object without a prototype', () => {
    const pairs = parsePairs('a=1', 'invalid_query');
    expect(Object.getPrototypeOf(pairs)).toBeNull();
    expect(Object.getPrototypeOf(parsePairs('', 'invalid_form'))).toBeNull();
    // Keys that name Object.prototype members are plain data here.
    expect({ ...parsePairs('toString=1&hasOwnProperty=2', 'invalid_query') }).toEqual({ toString: '1', hasOwnProperty: '2' });
  });

  it.each([
    ['a lone %', 'a=%'],
    ['a truncated escape', 'a=%4'],
    ['a non-hex escape', 'a=%zz'],
    ['a malformed escape in the key', '%g0=1'],
    ['invalid UTF-8 (%FF)', 'a=%FF'],
    ['a truncated UTF-8 sequence', 'a=%C3'],
    ['an encoded lone surrogate', 'a=%ED%A0%80'],
  ])('refuses %s with 400 and the code it is given', (_name, text) => {
    expect(refusal(text, 'invalid_query')).toEqual({ code: 'invalid_query', status: 400, message: 'Malformed percent-encoding or invalid UTF-8.' });
    expect(refusal(text, 'invalid_form').code).toBe('invalid_form');
  });

  it.each([
    ['__proto__', '__proto__=x', '__proto__'],
    ['constructor', 'constructor=x', 'constructor'],
    ['prototype', 'prototype=x', 'prototype'],
    ['a[__proto__]', 'a[__proto__]=x', 'a[__proto__]'],
    ['__proto__[x]', '__proto__[x]=1', '__proto__[x]'],
    ['a[constructor][prototype]', 'a[constructor][prototype][x]=1', 'a[constructor][prototype][x]'],
    ['a.__proto__.x (dot notation)', 'a.__proto__.x=1', 'a.__proto__.x'],
    ['a percent-encoded __proto__', '%5F%5Fproto%5F%5F=x', '__proto__'],
    ['an encoded a%5B__proto__%5D', 'a%5B__proto__%5D=x', 'a[__proto__]'],
    ['a key without a value', 'ok=1&__proto__', '__proto__'],
  ])('refuses the poisonous key %s', (_name, text, key) => {
    expect(refusal(text, 'invalid_query')).toEqual({ code: 'invalid_query', status: 400, message: `The key "${key}" is not allowed.` });
    expect(refusal(text, 'invalid_form').code).toBe('invalid_form');
  });

  it('keeps keys that merely contain those words', () => {
    expect({ ...parsePairs('my_constructor=1&prototypes=2&__proto=3&a[proto]=4', 'invalid_query') }).toEqual({ my_constructor: '1', prototypes: '2', __proto: '3', 'a[proto]': '4' });
  });

  it('accepts a poisonous-looking value: only keys reach parsers as property names', () => {
    expect({ ...parsePairs('a=__proto__&b=constructor', 'invalid_query') }).toEqual({ a: '__proto__', b: 'constructor' });
  });
});

describe('serializePairs', () => {
  it('serializes a flat record, repeating the key of an array', () => {
    expect(serializePairs({ a: '1', tag: ['x', 'y'], n: 2, yes: true, big: 10n })).toBe('a=1&tag=x&tag=y&n=2&yes=true&big=10');
  });

  it('percent-encodes keys and values, a space as +', () => {
    const text = serializePairs({ 'a b': 'c&d=e', é: '100%' });
    expect(text).toBe('a+b=c%26d%3De&%C3%A9=100%25');
    expect({ ...parsePairs(text, 'invalid_query') }).toEqual({ 'a b': 'c&d=e', é: '100%' });
  });

  it('leaves out null and undefined, but keeps empty strings, 0 and false', () => {
    expect(serializePairs({ a: null, b: undefined, c: '', d: 0, e: false })).toBe('c=&d=0&e=false');
    expect(serializePairs({})).toBe('');
  });

  it('round-trips what parsePairs produced', () => {
    const text = 'a=1&tag=x&tag=y&empty=';
    expect(serializePairs(parsePairs(text, 'invalid_query'))).toBe(text);
  });

  it.each([
    ['an object', { a: { b: 1 } }],
    ['an object in an array', { a: ['x', { b: 1 }] }],
    ['a nested array', { a: [['x']] }],
  ])('refuses a nested value (%s) as a 500 internal: the map is at fault, not the client', (_name, record) => {
    let caught: unknown;
    try {
      serializePairs(record);
    } catch (error) {
      caught = error;
    }
    expect(isGatewayError(caught)).toBe(true);
    expect(caught).toMatchObject({ code: 'internal', status: 500, details: { reason: 'a query or form map returned a nested value at "a"' } });
  });
});
