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
    const [address = '', bits, extra] = typeof entry === 'string' ? entry.split('/') : [];
    const bytes = parseAddress(address);
    const max = bytes === undefined ? 0 : bytes.length * 8;
    const width = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : -1;
    if (bytes === undefined || extra !== undefined || width < 0 || width > max) {
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

/** What the client's address is resolved from: the connection's peer and the request's headers. */
export interface ClientSource {
  /** The connection's peer address (an IPv4-mapped `::ffff:` prefix already stripped). */
  readonly clientIp: string | undefined;
  readonly headers: { get(name: string): string | undefined };
}

/** The `for=` addresses of a Forwarded header, in order; `unknown` and obfuscated nodes as given. */
const forwardedFor = (value: string): string[] =>
  value.split(',').flatMap((element) => {
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq === -1 || pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
      let node = pair.slice(eq + 1).trim();
      if (node.startsWith('"') && node.endsWith('"')) node = node.slice(1, -1);
      // `[2001:db8::1]:4711` or `192.0.2.1:4711`: the address without the port.
      if (node.startsWith('[')) node = node.slice(1, node.indexOf(']') === -1 ? undefined : node.indexOf(']'));
      else if (node.split(':').length === 2) node = node.slice(0, node.indexOf(':'));
      return [node];
    }
    return [];
  });

/**
 * Compiles how the client's address is found, once for every consumer (balancers, middleware,
 * events): the peer, unless the peer is a trusted proxy; then, walking X-Forwarded-For (or,
 * without it, Forwarded's `for=`) from the right, the first address that is not a trusted proxy,
 * as NGINX's `real_ip_recursive` and Express's `trust proxy` do. A value that is not an address
 * (`unknown`, a typo) ends the walk: the last trusted hop is then the best the gateway knows.
 */
export const clientResolver = (trusted: readonly string[]): ((source: ClientSource) => string | undefined) => {
  if (trusted.length === 0) return (source) => source.clientIp;
  const isTrusted = trustMatcher(trusted);
  return (source) => {
    let client = source.clientIp;
    if (!isTrusted(client)) return client;
    const xff = source.headers.get('x-forwarded-for');
    const forwarded = xff === undefined ? source.headers.get('forwarded') : undefined;
    const hops = xff !== undefined ? xff.split(',').map((hop) => hop.trim()) : forwarded !== undefined ? forwardedFor(forwarded) : [];
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (parseAddress(hop) === undefined) break;
      client = hop;
      if (!isTrusted(hop)) break;
    }
    return client;
  };
};
