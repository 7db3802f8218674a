import { describe, expect, it } from '@jest/globals';
import { trustMatcher } from './trust.ts';

describe('trustMatcher', () => {
  it('trusts listed addresses and CIDR ranges, IPv4 and IPv6, and no one else', () => {
    const trusted = trustMatcher(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);
    expect(trusted('127.0.0.1')).toBe(true);
    expect(trusted('10.200.3.4')).toBe(true);
    expect(trusted('fd12::1')).toBe(true);
    expect(trusted('11.0.0.1')).toBe(false);
    expect(trusted('::1')).toBe(false);
    expect(trusted(undefined)).toBe(false);
  });

  it('trusts no one by default', () => {
    expect(trustMatcher([])('127.0.0.1')).toBe(false);
  });

  it('refuses an entry that is not an address', () => {
    expect(() => trustMatcher(['localhost'])).toThrow(/not an IP address/);
  });
});

describe('trustMatcher address forms', () => {
  it('reads IPv4-mapped IPv6 as IPv4, and compressed or bracketed IPv6', () => {
    const trusted = trustMatcher(['127.0.0.0/8', '2001:db8::/32']);
    expect(trusted('::ffff:127.0.0.1')).toBe(true);
    expect(trusted('2001:db8:0:0:0:0:0:1')).toBe(true);
    expect(trusted('[2001:db8::1]')).toBe(true);
    expect(trusted('2001:db9::1')).toBe(false);
  });

  it('treats malformed addresses as untrusted and refuses malformed entries', () => {
    const trusted = trustMatcher(['0.0.0.0/0']);
    expect(trusted('1.2.3.4')).toBe(true);
    expect(trusted('1.2.3')).toBe(false);
    expect(trusted('::1::2')).toBe(false);
    expect(trusted('fe80::1%eth0')).toBe(false);
    expect(() => trustMatcher(['10.0.0.0/33'])).toThrow(/not an IP address/);
    expect(() => trustMatcher(['1:2:3:4:5:6:7:8:9'])).toThrow(/not an IP address/);
  });
});
