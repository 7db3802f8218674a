const ipv4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

const parseIpv4 = (text: string): number[] | undefined => {
  const match = ipv4.exec(text);
  if (match === null) return undefined;
  const bytes = match.slice(1).map(Number);
  return bytes.every((byte) => byte <= 255) ? bytes : undefined;
};

/** The eight 16-bit groups of an IPv6 address (an embedded IPv4 tail allowed), or undefined. */
const parseIpv6 = (text: string): number[] | undefined => {
  let rest = text;
  const zone = rest.indexOf('%');
  if (zone !== -1) rest = rest.slice(0, zone);
  const lastColon = rest.lastIndexOf(':');
  if (rest.includes('.', lastColon)) {
    // An embedded IPv4 tail (`::ffff:192.0.2.1`) is the last two groups written in decimal.
    const v4 = parseIpv4(rest.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    rest = `${rest.slice(0, lastColon + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const halves = rest.split('::');
  if (halves.length > 2) return undefined;
  const part = (half: string): number[] | undefined => {
    if (half === '') return [];
    const groups = half.split(':');
    if (!groups.every((group) => /^[0-9a-fA-F]{1,4}$/.test(group))) return undefined;
    return groups.map((group) => Number.parseInt(group, 16));
  };
  const head = part(halves[0]!);
  const back = halves.length === 2 ? part(halves[1]!) : [];
  if (head === undefined || back === undefined) return undefined;
  const known = head.length + back.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return undefined;
  return [...head, ...new Array<number>(8 - known).fill(0), ...back];
};

/**
 * Whether `text` is an IPv4 address written the one canonical way (four decimal bytes, no leading
 * zero): then, whole, it is its own key. A scan, not a parse: the key of every request of a busy
 * client is made here, and the parse (a regex, arrays, a join) was most of what keying cost.
 */
const isCanonicalIpv4 = (text: string): boolean => {
  let groups = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= text.length; i++) {
    const code = i === text.length ? 46 : text.charCodeAt(i);
    if (code === 46) {
      // '.': a group ends.
      if (digits === 0 || value > 255 || ++groups > 4) return false;
      value = 0;
      digits = 0;
    } else if (code >= 48 && code <= 57) {
      if (digits === 1 && value === 0) return false;
      value = value * 10 + (code - 48);
      if (++digits > 3) return false;
    } else return false;
  }
  return groups === 4;
};

/**
 * The key of a client address: an IPv4 address masked to `v4` bits, an IPv6 one to `v6` bits
 * (`2001:db8:0:ab00::/56`); an IPv4-mapped IPv6 address counts as IPv4. Anything else is kept as it is.
 */
export const addressPrefix = (address: string, v4: number, v6: number): string => {
  if (v4 >= 32 && isCanonicalIpv4(address)) return address;
  const four = parseIpv4(address);
  const six = four === undefined ? parseIpv6(address) : undefined;
  const mapped = six !== undefined && six.slice(0, 5).every((group) => group === 0) && six[5] === 0xffff;
  if (four !== undefined || mapped) {
    const bytes = four ?? [six![6]! >> 8, six![6]! & 0xff, six![7]! >> 8, six![7]! & 0xff];
    if (v4 >= 32) return bytes.join('.');
    const masked = bytes.map((byte, i) => {
      const bits = Math.min(8, Math.max(0, v4 - i * 8));
      return byte & ((0xff << (8 - bits)) & 0xff);
    });
    return `${masked.join('.')}/${v4}`;
  }
  if (six === undefined) return address;
  const groups = six.map((group, i) => {
    const bits = Math.min(16, Math.max(0, v6 - i * 16));
    return group & ((0xffff << (16 - bits)) & 0xffff);
  });
  const significant = Math.ceil(v6 / 16);
  const shown = groups.slice(0, significant).map((group) => group.toString(16)).join(':');
  return v6 >= 128 ? shown : `${shown}::/${v6}`;
};
