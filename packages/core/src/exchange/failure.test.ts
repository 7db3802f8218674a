import { describe, expect, it } from '@jest/globals';
import { clientGoneCode, clientTimeoutCode, TransportError, upstreamFailure, upstreamTimeoutCode } from './failure.ts';

const withCode = (code: string, message = 'boom'): Error => Object.assign(new Error(message), { code });

describe('upstreamFailure: one table of upstream error codes for every transport', () => {
  it.each([
    ['ECONNREFUSED', 'upstream_unreachable', 502],
    ['ENOTFOUND', 'upstream_unreachable', 502],
    ['EAI_AGAIN', 'upstream_unreachable', 502],
    ['ECONNRESET', 'upstream_reset', 502],
    ['EPIPE', 'upstream_reset', 502],
    ['UND_ERR_SOCKET', 'upstream_reset', 502],
    ['ETIMEDOUT', 'upstream_timeout', 504],
    ['ECONNECT_TIMEOUT', 'upstream_timeout', 504],
    ['UND_ERR_CONNECT_TIMEOUT', 'upstream_timeout', 504],
    [upstreamTimeoutCode, 'upstream_timeout', 504],
    ['EPROTO', 'bad_gateway', 502],
  ])('maps %s to %s (%i)', (code, expected, status) => {
    const error = upstreamFailure(withCode(code));
    expect(error.code).toBe(expected);
    expect(error.status).toBe(status);
    expect(error.details).toMatchObject({ upstreamCode: code, reason: 'boom' });
  });

  it("reads the code of fetch's cause, as Node's fetch wraps the socket error", () => {
    const error = upstreamFailure(new TypeError('fetch failed', { cause: withCode('ECONNREFUSED') }));
    expect(error.code).toBe('upstream_unreachable');
    expect(error.details).toMatchObject({ upstreamCode: 'ECONNREFUSED' });
  });

  it("reads workerd's codeless \"Network connection lost.\" as upstream_unreachable", () => {
    expect(upstreamFailure(new Error('Network connection lost.')).code).toBe('upstream_unreachable');
  });

  it('does not blame the backend for a client that stalled or left', () => {
    expect(upstreamFailure(new TransportError(clientTimeoutCode, 'the client was silent')).code).toBe('client_closed');
    expect(upstreamFailure(new TransportError(clientGoneCode, 'the client left')).code).toBe('client_closed');
  });

  it('says in the details that the failure was the replay after a stale connection, and keeps the cause', () => {
    const cause = withCode('ECONNRESET');
    const error = upstreamFailure(cause, true);
    expect(error.details).toMatchObject({ replayed: true });
    expect(error.cause).toBe(cause);
    expect(upstreamFailure(cause).details).not.toHaveProperty('replayed');
  });

  it('maps anything without a code to bad_gateway', () => {
    expect(upstreamFailure(new TypeError('fetch failed')).code).toBe('bad_gateway');
    expect(upstreamFailure(undefined).code).toBe('bad_gateway');
  });
});
