import { describe, expect, it } from '@jest/globals';
import { hashPair, murmur3, unitScore } from './hash.ts';

describe('murmur3 (x86, 32-bit)', () => {
  // Reference vectors of MurmurHash3_x86_32 (SMHasher); the tail cases cover 1, 2 and 3 leftover bytes.
  it.each([
    ['', 0, 0x00000000],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['a', 0x9747b28c, 0x7fa09ea6],
    ['aa', 0x9747b28c, 0x5d211726],
    ['aaa', 0x9747b28c, 0x283e0130],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['abc', 0, 0xb3dd93fa],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
  ])('hashes %j with seed %i to the reference value', (text, seed, expected) => {
    expect(murmur3(text, seed)).toBe(expected);
  });

  it('hashes the UTF-8 bytes of non-ASCII text', () => {
    // "ππππππππ" is 16 UTF-8 bytes (0xcf 0x80 each); the SMHasher vector for those bytes.
    expect(murmur3('ππππππππ', 0x9747b28c)).toBe(0xd58063c1);
  });

  it('gives unsigned 32-bit results', () => {
    for (const text of ['x', 'émoji 🎉', '\u0000', 'a'.repeat(1000)]) {
      const hash = murmur3(text);
      expect(Number.isInteger(hash) && hash >= 0 && hash < 2 ** 32).toBe(true);
    }
  });
});

describe('unitScore', () => {
  it('is strictly between 0 and 1, also at the extremes of the hashes', () => {
    const extremes = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff];
    for (const a of extremes) for (const b of extremes) for (const c of extremes) for (const d of extremes) {
      const u = unitScore([a, b], [c, d]);
      expect(u > 0 && u < 1).toBe(true);
    }
    for (let i = 0; i < 10_000; i++) {
      const u = unitScore(hashPair(`key-${i}`), hashPair('http://backend'));
      expect(u > 0 && u < 1).toBe(true);
    }
  });

  it('stays below 1 when both mixed hashes are all ones (the top value would round to exactly 1)', () => {
    // x with fmix32(x) = 0xffffffff, by inverting fmix32 step by step.
    const inverse = (a: number): number => {
      let x = a;
      for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(a, x));
      return x;
    };
    let h = 0xffffffff;
    h ^= h >>> 16;
    h = Math.imul(h, inverse(0xc2b2ae35));
    h ^= (h >>> 13) ^ (h >>> 26);
    h = Math.imul(h, inverse(0x85ebca6b));
    h ^= h >>> 16;
    const x = h >>> 0;
    const u = unitScore([x, x], [0, 0]);
    expect(u).toBeLessThan(1);
    expect(u).toBeGreaterThan(1 - 2 ** -52);
    expect(Number.isFinite(-1 / Math.log(u))).toBe(true);
  });

  it('is uniform enough: 10 000 keys fall into 10 equal bins within ±15% of 1 000 each', () => {
    const bins = new Array<number>(10).fill(0);
    const backend = hashPair('http://10.0.0.1:8080');
    for (let i = 0; i < 10_000; i++) bins[Math.floor(unitScore(hashPair(`user-${i}`), backend) * 10)]! += 1;
    for (const count of bins) expect(Math.abs(count - 1_000)).toBeLessThan(150);
  });
});
