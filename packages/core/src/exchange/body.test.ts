import { describe, expect, it } from '@jest/globals';
import { outgoingBody, type BodyState } from './body.ts';

const headersOf = (initial: Record<string, string>) => {
  const values = new Map(Object.entries(initial));
  return { values, get: (name: string) => values.get(name), has: (name: string) => values.has(name), set: (name: string, value: string) => void values.set(name, value), delete: (name: string) => void values.delete(name) };
};
const noReplacement = { body: undefined, contentType: undefined };
const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const decode = (body: ReturnType<typeof outgoingBody>): string => {
  if (!('kind' in body) || body.kind !== 'bytes') throw new Error(`expected bytes, got ${JSON.stringify(body)}`);
  return new TextDecoder().decode(body.bytes);
};

describe('outgoingBody: which body goes upstream, for every transport', () => {
  it("keeps the client's stream when nothing read it", () => {
    const headers = headersOf({ 'transfer-encoding': 'chunked' });
    expect(outgoingBody(noReplacement, { read: undefined, consumed: undefined, headers })).toEqual({ kind: 'stream' });
    expect(headers.values.get('transfer-encoding')).toBe('chunked');
  });

  it('sends a replacement with its own type and length, without the client encoding', () => {
    const headers = headersOf({ 'content-type': 'text/plain', 'content-encoding': 'gzip', 'transfer-encoding': 'chunked' });
    const body = outgoingBody({ body: encode('{"a":1}'), contentType: 'application/json' }, { read: encode('ignored'), consumed: undefined, headers });
    expect(decode(body)).toBe('{"a":1}');
    expect(Object.fromEntries(headers.values)).toEqual({ 'content-type': 'application/json', 'content-length': '7' });
  });

  it('sends the bytes the route read, framed by their length', () => {
    const headers = headersOf({ 'transfer-encoding': 'chunked', 'content-type': 'application/json' });
    expect(decode(outgoingBody(noReplacement, { read: encode('[1,2]'), consumed: undefined, headers }))).toBe('[1,2]');
    expect(Object.fromEntries(headers.values)).toEqual({ 'content-type': 'application/json', 'content-length': '5' });
  });

  it("re-serializes what a host's parser made of the body", () => {
    const headers = headersOf({ 'content-type': 'application/json', 'content-length': '30', 'content-encoding': 'gzip' });
    expect(decode(outgoingBody(noReplacement, { read: undefined, consumed: { value: { n: 1 } }, headers }))).toBe('{"n":1}');
    expect(Object.fromEntries(headers.values)).toEqual({ 'content-type': 'application/json', 'content-length': '7' });
  });

  it('keeps a body the client declared empty empty, whatever the parser made of it', () => {
    const headers = headersOf({ 'content-type': 'application/json', 'content-length': '0' });
    expect(decode(outgoingBody(noReplacement, { read: undefined, consumed: { value: {} }, headers }))).toBe('');
  });

  it('refuses to forward a declared body that a host middleware read and did not keep', () => {
    const error = outgoingBody(noReplacement, { read: undefined, consumed: { value: undefined }, headers: headersOf({ 'content-length': '12' }) });
    expect(error).toMatchObject({ code: 'internal', status: 500 });
  });

  it('answers invalid_json for parsed JSON nested too deeply to serialize again', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const state: BodyState = { read: undefined, consumed: { value: deep }, headers: headersOf({ 'content-type': 'application/json', 'content-length': '40000' }) };
    expect(outgoingBody(noReplacement, state)).toMatchObject({ code: 'invalid_json', status: 400 });
  });
});
