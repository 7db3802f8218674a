/** Byte helpers shared by the API-key and signed-cookie code; no Node built-in, so they run on every runtime. */

export const utf8 = new TextEncoder();

export const bytesOf = (value: string | Uint8Array): Uint8Array => (typeof value === 'string' ? utf8.encode(value) : value);

export const toHex = (bytes: Uint8Array): string => {
  let hex = '';
  for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
  return hex;
};

/**
 * Whether two byte strings are equal, in a time that depends only on their length: every byte is
 * looked at, whatever the first difference. The lengths compared are those of digests and MACs,
 * which are public.
 */
export const constantTimeEqual = (a: Uint8Array, b: Uint8Array): boolean => {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
};
