import { describe, expect, it } from '@jest/globals';
import { connectionDropped, connectionListed, forwardingHeaders, hopByHopButFraming, transferCodingRefusal, type ForwardingInput } from './headers.ts';

const input = (overrides: Partial<ForwardingInput> = {}): ForwardingInput => ({
  clientIp: '203.0.113.7',
  trusted: false,
  proto: 'http',
  host: 'api.example.com',
  xForwardedFor: undefined,
  xForwardedProto: undefined,
  xForwardedHost: undefined,
  forwarded: undefined,
  ...overrides,
});

describe('connectionListed', () => {
  it('lower-cases and trims every token of one or many Connection values', () => {
    expect(connectionListed(' X-Secret , keep-alive,,Close')).toEqual(['x-secret', 'keep-alive', 'close']);
    expect(connectionListed(['a', 'B, c'])).toEqual(['a', 'b', 'c']);
    expect(connectionListed(undefined)).toEqual([]);
  });
});

describe('connectionDropped', () => {
  it('lists what a sender may drop: never the framing headers nor Host, nor names already hop-by-hop', () => {
    expect(connectionDropped('close, Authorization, content-length, Transfer-Encoding, host, keep-alive, x-api-key')).toEqual(['authorization', 'x-api-key']);
    expect(connectionDropped('keep-alive')).toEqual([]);
    expect(connectionDropped(undefined)).toEqual([]);
  });

  it('leaves Transfer-Encoding out of the hop-by-hop names dropped before the body is decided', () => {
    expect(hopByHopButFraming).not.toContain('transfer-encoding');
    expect(hopByHopButFraming).toEqual(expect.arrayContaining(['connection', 'keep-alive', 'te', 'upgrade', 'proxy-authorization']));
  });
});

describe('transferCodingRefusal', () => {
  it('lets no coding and chunked alone through', () => {
    for (const value of [undefined, null, 'chunked', ' Chunked ']) expect(transferCodingRefusal(value)).toBeUndefined();
  });

  it('refuses any other coding with 501 not_implemented', () => {
    for (const value of ['gzip, chunked', 'chunked, chunked', 'identity', 'gzip']) {
      const refusal = transferCodingRefusal(value);
      expect({ code: refusal?.code, status: refusal?.status, details: refusal?.details }).toEqual({ code: 'not_implemented', status: 501, details: { transferEncoding: value } });
    }
  });
});

describe('forwardingHeaders', () => {
  it('replaces what an untrusted client claims with what the socket says', () => {
    const headers = forwardingHeaders(
      input({ xForwardedFor: '1.2.3.4', xForwardedProto: 'https', xForwardedHost: 'evil.example', forwarded: 'for=1.2.3.4' }),
    );
    expect(headers).toEqual({
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'api.example.com',
      'x-forwarded-port': '80',
      forwarded: 'for=203.0.113.7;proto=http;host=api.example.com',
    });
  });

  it('sets X-Forwarded-Port from the Host the client used, else the scheme default, ignoring an untrusted claim', () => {
    expect(forwardingHeaders(input({ host: 'api.example.com:8443', xForwardedPort: '1' }))['x-forwarded-port']).toBe('8443');
    expect(forwardingHeaders(input({ host: '[::1]:8080' }))['x-forwarded-port']).toBe('8080');
    expect(forwardingHeaders(input({ host: '[::1]' }))['x-forwarded-port']).toBe('80');
    expect(forwardingHeaders(input({ proto: 'https', host: 'api.example.com' }))['x-forwarded-port']).toBe('443');
    expect(forwardingHeaders(input({ host: undefined }))['x-forwarded-port']).toBe('80');
    // One Host after another, each answered for itself (the last one is remembered).
    for (const [host, port] of [['a.example:8081', '8081'], ['a.example:8081', '8081'], ['b.example', '80'], ['a.example:8081', '8081'], ['', '80']] as const) {
      expect(forwardingHeaders(input({ host }))['x-forwarded-port']).toBe(port);
    }
  });

  it("keeps a trusted proxy's X-Forwarded-Port, else derives it from the host and proto it forwarded", () => {
    expect(forwardingHeaders(input({ trusted: true, xForwardedPort: '8443', host: 'gw:8080' }))['x-forwarded-port']).toBe('8443');
    expect(forwardingHeaders(input({ trusted: true, xForwardedProto: 'https', xForwardedHost: 'public.example', host: 'gw:8080' }))['x-forwarded-port']).toBe('443');
    expect(forwardingHeaders(input({ trusted: true, xForwardedHost: 'public.example:9000', host: 'gw:8080' }))['x-forwarded-port']).toBe('9000');
  });

  it('extends the chain a trusted proxy sent and keeps its proto and host', () => {
    const headers = forwardingHeaders(
      input({ trusted: true, xForwardedFor: '198.51.100.1', xForwardedProto: 'https', xForwardedHost: 'public.example', forwarded: 'for=198.51.100.1;proto=https' }),
    );
    expect(headers['x-forwarded-for']).toBe('198.51.100.1, 203.0.113.7');
    expect(headers['x-forwarded-proto']).toBe('https');
    expect(headers['x-forwarded-host']).toBe('public.example');
    expect(headers.forwarded).toBe('for=198.51.100.1;proto=https, for=203.0.113.7;proto=http;host=api.example.com');
  });

  it('quotes IPv6 nodes and hosts with a port as RFC 7239 requires', () => {
    const headers = forwardingHeaders(input({ clientIp: '::1', host: '127.0.0.1:8080' }));
    expect(headers.forwarded).toBe('for="[::1]";proto=http;host="127.0.0.1:8080"');
  });

  it('says unknown when the peer address is gone and sets no X-Forwarded-For', () => {
    const headers = forwardingHeaders(input({ clientIp: undefined, host: undefined }));
    expect(headers.forwarded).toBe('for=unknown;proto=http');
    expect(headers['x-forwarded-for']).toBeUndefined();
    expect(headers['x-forwarded-host']).toBeUndefined();
  });
});
