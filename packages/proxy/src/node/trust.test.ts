import { describe, expect, it } from '@jest/globals';
import { trustMatcher } from './hygiene.ts';

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
