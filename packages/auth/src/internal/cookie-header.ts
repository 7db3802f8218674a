/** One `name=value` pair of a Cookie header, as sent (the value not unquoted). */
export interface CookiePair {
  readonly name: string;
  readonly value: string;
}

/** The pairs of a Cookie header in order; a part without `=` is kept as a pair with an empty name. */
export const parseCookies = (header: string): CookiePair[] => {
  const pairs: CookiePair[] = [];
  for (const part of header.split(';')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const eq = trimmed.indexOf('=');
    pairs.push(eq === -1 ? { name: '', value: trimmed } : { name: trimmed.slice(0, eq).trim(), value: trimmed.slice(eq + 1).trim() });
  }
  return pairs;
};

export const serializeCookies = (pairs: readonly CookiePair[]): string => pairs.map((pair) => (pair.name === '' ? pair.value : `${pair.name}=${pair.value}`)).join('; ');

/** A value without the double quotes RFC 6265 allows around it, and whether it had them. */
export const unquote = (value: string): { value: string; quoted: boolean } =>
  value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? { value: value.slice(1, -1), quoted: true } : { value, quoted: false };
