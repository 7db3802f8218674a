import { GatewayError } from '@apigate/errors';
import { describe, expect, it } from '@jest/globals';
import { decodeParam, decodeTail, parseTemplate } from './path-template.ts';
import { withQuery } from './rewrite.ts';

describe('parseTemplate', () => {
  it('splits a template into static and parameter segments, skipping empty ones', () => {
    expect(parseTemplate('/item/{id}/review')).toEqual([
      { kind: 'static', value: 'item' },
      { kind: 'param', name: 'id' },
      { kind: 'static', value: 'review' },
    ]);
    expect(parseTemplate('/')).toEqual([]);
    expect(parseTemplate('/a//b/')).toEqual([
      { kind: 'static', value: 'a' },
      { kind: 'static', value: 'b' },
    ]);
  });

  it('parses a catch-all `{*name}` as a tail segment', () => {
    expect(parseTemplate('/files/{*rest}')).toEqual([
      { kind: 'static', value: 'files' },
      { kind: 'tail', name: 'rest' },
    ]);
  });

  it.each([
    ['a/b', '"a/b" must start with "/"'],
    ['/a/*', '"/a/*" has a wildcard "*": the rest of a path is written {*name}'],
    ['/{*__proto__}', '"__proto__" in "/{*__proto__}" is not allowed as a parameter name'],
    ['/a/{b', '"{b" in "/a/{b" is not a {param} or {*param} segment'],
    ['/a/{b}c', '"{b}c" in "/a/{b}c" is not a {param} or {*param} segment'],
    ['/a/..', '"/a/.." has a dot segment'],
    ['/{constructor}', '"constructor" in "/{constructor}" is not allowed as a parameter name'],
  ])('refuses %j', (template, message) => {
    expect(() => parseTemplate(template)).toThrow(message);
  });
});

describe('decodeParam', () => {
  it('decodes percent-encoding and leaves plain values as they are', () => {
    expect(decodeParam('a%20b', 'p')).toBe('a b');
    expect(decodeParam('caf%C3%A9', 'p')).toBe('café');
    expect(decodeParam('plain', 'p')).toBe('plain');
    expect(decodeParam('a+b', 'p')).toBe('a+b');
  });

  it.each(['..', '.', '%2e%2e', '%2E', 'a%2Fb', 'a%5cb', 'a\\b', 'a%00b', '%E0%A4%A'])('refuses %j with invalid_path naming the param', (raw) => {
    let thrown: unknown;
    try {
      decodeParam(raw, 'name');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(GatewayError);
    expect(thrown).toMatchObject({ code: 'invalid_path', status: 400, details: { param: 'name', raw } });
  });
});

describe('decodeTail', () => {
  it.each([
    ['', '', ''],
    ['/', '', '/'],
    ['/a', 'a', '/a'],
    ['/a/b/', 'a/b', '/a/b/'],
    ['/a%20b/caf%C3%A9', 'a b/café', '/a%20b/caf%C3%A9'],
    ['/a%2Bb', 'a+b', '/a%2Bb'],
    ['/"x"/a#b', '"x"/a#b', '/%22x%22/a%23b'],
  ])('decodes %j to %j and forwards %j', (raw, value, emitted) => {
    expect(decodeTail(raw, 'rest')).toEqual({ raw, value, emitted });
  });

  it.each(['//', '//evil', '/a//b', '/a//', '/..', '/a/%2e%2E', '/a/.', '/a%2fb', '/a%5Cb', '/a\\b', '/%00', '/%E0%A4%A', '/\ud800'])('refuses %j with invalid_path naming the param', (raw) => {
    expect(() => decodeTail(raw, 'rest')).toThrow(expect.objectContaining({ code: 'invalid_path', status: 400, details: expect.objectContaining({ param: 'rest' }) }));
  });
});

describe('withQuery', () => {
  it.each([
    ['', '', '/p'],
    ['', 'a=1', '/p?a=1'],
    ['v=2', '', '/p?v=2'],
    ['v=2', 'a=1', '/p?v=2&a=1'],
  ])('joins the `to` query %j and the client query %j', (toQuery, query, expected) => {
    expect(withQuery('/p', toQuery, query)).toBe(expected);
  });
});
