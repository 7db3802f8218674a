/**
 * Trusted-proxy matching without Node's net module, so the fetch transport can use it on edge
 * runtimes: addresses and CIDR ranges, IPv4 and IPv6 (IPv4-mapped IPv6 reads as IPv4).
 */

const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

const parseIPv4 = (text: string): number[] | undefined => {
  const parts = ipv4.exec(text);
  if (!parts) return undefined;
  const bytes = parts.slice(1).map(Number);
  return bytes.every((byte) => byte <= 255) ? bytes : undefined;
};

const parseIPv6 = (input: string): number[] | undefined => {
  let text = input;
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  if (!text.includes(':') || text.includes('%')) return undefined;
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.slice(lastColon + 1).includes('.')) {
    const v4 = parseIPv4(text.slice(lastColon + 1));
    if (!v4) return undefined;
    tail = v4;
    text = `${text.slice(0, lastColon)}:0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const out: number[] = [];
    for (const group of part.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
      out.push(parseInt(group, 16));
    }
    return out;
  };
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const missing = 8 - head.length - rest.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const words = [...head, ...Array.from({ length: halves.length === 2 ? missing : 0 }, () => 0), ...rest];
  const bytes = words.flatMap((word) => [word >> 8, word & 0xff]);
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
};

/** An address as bytes (4 for IPv4, 16 for IPv6; IPv4-mapped IPv6 as 4), or undefined. */
export const parseAddress = (text: string): number[] | undefined => {
  const v4 = parseIPv4(text);
  if (v4) return v4;
  const v6 = parseIPv6(text);
  if (!v6) return undefined;
  const mapped = v6.slice(0, 10).every((byte) => byte === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return mapped ? v6.slice(12) : v6;
};

interface Range {
  readonly bytes: number[];
  readonly bits: number;
}

const inRange = (address: number[], range: Range): boolean => {
  if (address.length !== range.bytes.length) return false;
  let bits = range.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((address[i]! & mask) !== (range.bytes[i]! & mask)) return false;
  }
  return true;
};

/** Compiles trusted proxy addresses and CIDR ranges into a matcher; throws on an invalid entry. */
export const trustMatcher = (trusted: readonly string[]): ((ip: string | undefined) => boolean) => {
  if (trusted.length === 0) return () => false;
  const ranges: Range[] = trusted.map((entry) => {
    const [address = '', bits] = entry.split('/');
    const bytes = parseAddress(address);
    const max = bytes === undefined ? 0 : bytes.length * 8;
    const width = bits === undefined ? max : Number(bits);
    if (bytes === undefined || !Number.isInteger(width) || width < 0 || width > max) {
      throw new Error(`trustedProxies: "${entry}" is not an IP address or CIDR range`);
    }
    return { bytes, bits: width };
  });
  return (ip) => {
    if (ip === undefined) return false;
    const address = parseAddress(ip);
    return address !== undefined && ranges.some((range) => inRange(address, range));
  };
};
