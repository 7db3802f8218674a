import { describe, expect, it } from '@jest/globals';
import { encodeForm, serializeParsedBody } from './parsed-body.ts';

const text = (bytes: Uint8Array | undefined): string | undefined => (bytes === undefined ? undefined : new TextDecoder().decode(bytes));

describe('serializeParsedBody', () => {
  it('re-serializes a parsed JSON body, for +json types too', () => {
    expect(text(serializeParsedBody({ a: 1, b: ['x'] }, 'application/json; charset=utf-8'))).toBe('{"a":1,"b":["x"]}');
    expect(text(serializeParsedBody({ a: 1 }, 'application/vnd.api+json'))).toBe('{"a":1}');
    expect(text(serializeParsedBody([1, 2], 'application/json'))).toBe('[1,2]');
  });

  it('form-encodes a parsed urlencoded body', () => {
    expect(text(serializeParsedBody({ name: 'a b', tags: ['x', 'y'] }, 'application/x-www-form-urlencoded'))).toBe('name=a+b&tags=x&tags=y');
  });

  it('keeps raw and text bodies as they are', () => {
    const raw = new Uint8Array([0, 255, 1]);
    expect(serializeParsedBody(raw, 'application/octet-stream')).toBe(raw);
    expect(text(serializeParsedBody('héllo', 'text/plain'))).toBe('héllo');
  });

  it('has no body for undefined or null', () => {
    expect(serializeParsedBody(undefined, 'application/json')).toBeUndefined();
    expect(serializeParsedBody(null, 'application/json')).toBeUndefined();
  });
});

describe('encodeForm', () => {
  it('writes nested objects and arrays of objects in bracket notation', () => {
    expect(decodeURIComponent(encodeForm({ user: { name: 'n', roles: [{ id: 1 }] }, empty: null }))).toBe('user[name]=n&user[roles][0][id]=1&empty=');
  });

  it('writes keys such as __proto__ as plain keys without touching prototypes', () => {
    const body = JSON.parse('{"__proto__":{"polluted":"yes"},"constructor":"c"}') as object;
    expect(decodeURIComponent(encodeForm(body))).toBe('__proto__[polluted]=yes&constructor=c');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
