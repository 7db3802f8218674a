/** FNV-1a over UTF-16 code units, 32 bits, from a given offset basis. */
const fnv1a = (text: string, basis: number): number => {
  let hash = basis;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
};

/**
 * A key kept short: one longer than `max` characters (a header a client filled) becomes its
 * length and 64 bits of two FNV-1a hashes, so a store's memory per key stays small. Synchronous and
 * runtime-neutral (crypto.subtle is neither sync nor everywhere the same).
 */
export const shortKey = (key: string, max = 200): string =>
  key.length <= max ? key : `#${key.length}:${fnv1a(key, 0x811c9dc5).toString(16)}${fnv1a(key, 0x050c5d1f).toString(16)}`;
