import { describe, expect, it } from '@jest/globals';
import { BodyLimit } from './limit.ts';

describe('BodyLimit: one body limit for every body source', () => {
  it('refuses a declared length over the limit before reading, with 413 payload_too_large', () => {
    const limit = new BodyLimit(10);
    expect(limit.declared(11)).toMatchObject({ code: 'payload_too_large', status: 413, details: { limit: 10, declared: 11 } });
    expect(limit.declared(10)).toBeUndefined();
    expect(limit.declared(undefined)).toBeUndefined();
  });

  it('counts chunks as they come and refuses the one that passes the limit', () => {
    const limit = new BodyLimit(10);
    expect(limit.add(new Uint8Array(6))).toBeUndefined();
    expect(limit.add(new Uint8Array(4))).toBeUndefined();
    expect(limit.add(new Uint8Array(1))).toMatchObject({ code: 'payload_too_large', details: { limit: 10, received: 11 } });
  });

  it('joins what it kept into one piece, the one chunk as it is', () => {
    const one = new BodyLimit(10);
    const chunk = new TextEncoder().encode('abc');
    one.add(chunk);
    expect(one.bytes()).toBe(chunk);
    const two = new BodyLimit(10);
    two.add(new TextEncoder().encode('ab'));
    two.add(new TextEncoder().encode('cd'));
    expect(new TextDecoder().decode(two.bytes())).toBe('abcd');
    expect(new BodyLimit(10).bytes().byteLength).toBe(0);
  });
});
