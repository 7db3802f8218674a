import { describe, expect, it } from '@jest/globals';
import { clientResolver, trustMatcher } from './trust.ts';

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

describe('clientResolver: the client address, once, through the trusted proxies', () => {
  const source = (clientIp: string | undefined, headers: Record<string, string> = {}) => ({ clientIp, headers: { get: (name: string) => headers[name] } });

  it('is the peer when no proxy is trusted, whatever X-Forwarded-For says', () => {
    expect(clientResolver([])(source('203.0.113.9', { 'x-forwarded-for': '198.51.100.1' }))).toBe('203.0.113.9');
  });

  it('is the peer when the peer is not a trusted proxy: a client cannot spoof its address', () => {
    expect(clientResolver(['10.0.0.0/8'])(source('203.0.113.9', { 'x-forwarded-for': '198.51.100.1' }))).toBe('203.0.113.9');
  });

  it('walks X-Forwarded-For from the right past every trusted proxy', () => {
    const resolve = clientResolver(['10.0.0.0/8', '192.0.2.7']);
    expect(resolve(source('10.0.0.2', { 'x-forwarded-for': '198.51.100.1, 203.0.113.5, 192.0.2.7, 10.1.1.1' }))).toBe('203.0.113.5');
    // Only trusted hops: the left-most is the best the gateway knows.
    expect(resolve(source('10.0.0.2', { 'x-forwarded-for': '10.9.9.9' }))).toBe('10.9.9.9');
    // A trusted peer that forwarded for nobody: the peer itself.
    expect(resolve(source('10.0.0.2'))).toBe('10.0.0.2');
  });

  it('stops at a value that is not an address, keeping the last trusted hop', () => {
    expect(clientResolver(['10.0.0.0/8'])(source('10.0.0.2', { 'x-forwarded-for': '198.51.100.1, unknown, 10.0.0.3' }))).toBe('10.0.0.3');
  });

  it("reads Forwarded's for= (with IPv6 and ports) when X-Forwarded-For is absent", () => {
    const resolve = clientResolver(['10.0.0.0/8']);
    expect(resolve(source('10.0.0.2', { forwarded: 'for="[2001:db8::1]:4711";proto=https, for=10.0.0.5' }))).toBe('2001:db8::1');
    expect(resolve(source('10.0.0.2', { forwarded: 'for=192.0.2.60:80;by=10.0.0.1' }))).toBe('192.0.2.60');
  });
});
