/**
 * MurmurHash3 (x86, 32-bit) of UTF-8 bytes, written from the published algorithm: fast, well
 * mixed, and the same in every process and runtime, which consistent hashing needs.
 */
const encoder = new TextEncoder();

const fmix32 = (input: number): number => {
  let h = input;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
};

export const murmur3 = (text: string, seed = 0): number => {
  const bytes = encoder.encode(text);
  const blocks = bytes.length >>> 2;
  let h = seed >>> 0;
  for (let i = 0; i < blocks; i++) {
    const at = i << 2;
    let k = bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24);
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = blocks << 2;
  let k = 0;
  switch (bytes.length & 3) {
    case 3:
      k ^= bytes[tail + 2]! << 16;
    // falls through
    case 2:
      k ^= bytes[tail + 1]! << 8;
    // falls through
    case 1:
      k ^= bytes[tail]!;
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, 0x1b873593);
      h ^= k;
  }
  return fmix32(h ^ bytes.length);
};

/** Two independent 32-bit hashes of a text, for a 53-bit score. */
export const hashPair = (text: string): readonly [number, number] => [murmur3(text, 0x9747b28c), murmur3(text, 0x5bd1e995)];

/** A uniform number in (0, 1) from a key's and a backend's hash pairs. */
export const unitScore = (key: readonly [number, number], backend: readonly [number, number]): number => {
  const high = fmix32(key[0] ^ backend[0]) >>> 11; // 21 bits
  const low = fmix32(key[1] ^ backend[1]); // 32 bits
  // The highest value, (2^53 - 0.5) / 2^53, rounds to 1, whose log is 0: a score of -Infinity that
  // would make the balancer pick nothing. Keep it just below 1.
  return Math.min((high * 2 ** 32 + low + 0.5) / 2 ** 53, 1 - 2 ** -53);
};
