import { describe, expect, it } from '@jest/globals';
import { shortKey } from './hash.ts';
import { addressPrefix } from './ip.ts';

describe('addressPrefix', () => {
  it.each([
    ['2001:db8:0:ab01::1', 56, '2001:db8:0:ab00::/56'],
    ['2001:db8:0:abff:ffff:ffff:ffff:ffff', 56, '2001:db8:0:ab00::/56'],
    ['2001:DB8::1', 56, '2001:db8:0:0::/56'],
    ['2001:db8:0:ab01::1', 64, '2001:db8:0:ab01::/64'],
    ['2001:db8:0:ab01::1', 48, '2001:db8:0::/48'],
    ['2001:db8::1', 128, '2001:db8:0:0:0:0:0:1'],
    ['fe80::1%eth0', 64, 'fe80:0:0:0::/64'],
    ['::', 56, '0:0:0:0::/56'],
    ['::1', 128, '0:0:0:0:0:0:0:1'],
  ])('keys the IPv6 address %s by its /%i: %s', (address, bits, expected) => {
    expect(addressPrefix(address, 32, bits)).toBe(expected);
  });

  it('keys IPv4, and IPv4-mapped IPv6, by the IPv4 address or its prefix', () => {
    expect(addressPrefix('198.51.100.7', 32, 56)).toBe('198.51.100.7');
    expect(addressPrefix('198.51.100.7', 24, 56)).toBe('198.51.100.0/24');
    expect(addressPrefix('198.51.100.7', 20, 56)).toBe('198.51.96.0/20');
    expect(addressPrefix('::ffff:198.51.100.7', 32, 56)).toBe('198.51.100.7');
    expect(addressPrefix('::ffff:c633:6407', 32, 56)).toBe('198.51.100.7');
  });

  it('keys an IPv4 address written with leading zeros as the canonical one', () => {
    expect(addressPrefix('198.051.100.007', 32, 56)).toBe('198.51.100.7');
    expect(addressPrefix('0.0.0.0', 32, 56)).toBe('0.0.0.0');
    expect(addressPrefix('00.0.0.0', 32, 56)).toBe('0.0.0.0');
  });

  it('keeps what is not an address as it is', () => {
    for (const value of ['unknown', '1.2.3', '256.1.1.1', '1.2.3.4.5', '1..2.3', '1.2.3.', '.1.2.3', '1.2.3.4 ', '1::2::3', '2001:db8:0:0:0:0:0:0:1', 'g::1']) expect(addressPrefix(value, 32, 56)).toBe(value);
  });
});

describe('shortKey', () => {
  it('keeps short keys and shortens long ones to a stable digest', () => {
    expect(shortKey('header:x-api-key:abc')).toBe('header:x-api-key:abc');
    const long = `header:x-api-key:${'a'.repeat(5_000)}`;
    expect(shortKey(long)).toBe(shortKey(long));
    expect(shortKey(long).length).toBeLessThan(40);
    expect(shortKey(`${long}b`)).not.toBe(shortKey(long));
  });
});
