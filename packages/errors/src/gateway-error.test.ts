import { describe, expect, it } from '@jest/globals';
import {
  GatewayError,
  badGateway,
  badRequest,
  defaultMessage,
  errorStatus,
  forbidden,
  gatewayTimeout,
  internal,
  isErrorCode,
  isGatewayError,
  json,
  methodNotAllowed,
  notFound,
  notImplemented,
  payloadTooLarge,
  serviceUnavailable,
  toGatewayError,
  tooManyRequests,
  unauthorized,
  unsupportedMediaType,
  type ErrorCode,
} from './index.ts';

describe('GatewayError constructors', () => {
  it.each([
    [badRequest, 'bad_request', 400],
    [unauthorized, 'unauthorized', 401],
    [forbidden, 'forbidden', 403],
    [notFound, 'not_found', 404],
    [methodNotAllowed, 'method_not_allowed', 405],
    [payloadTooLarge, 'payload_too_large', 413],
    [unsupportedMediaType, 'unsupported_media_type', 415],
    [tooManyRequests, 'too_many_requests', 429],
    [internal, 'internal', 500],
    [notImplemented, 'not_implemented', 501],
    [badGateway, 'bad_gateway', 502],
    [serviceUnavailable, 'service_unavailable', 503],
    [gatewayTimeout, 'upstream_timeout', 504],
  ] as const)('%p gives code %s and status %i with the default message', (make, code, status) => {
    const error = make();
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('GatewayError');
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
    expect(error.message).toBe(defaultMessage[code]);
    expect(error.details).toBeUndefined();
    expect(error.cause).toBeUndefined();
    expect('cause' in error).toBe(false);
    expect(error.headers).toBeUndefined();
    expect(error.extensions).toBeUndefined();
    expect(error.response).toBeUndefined();
  });

  it('take a message and every option', () => {
    const cause = new Error('socket hang up');
    const response = json(401, { login: '/login' });
    const error = unauthorized('Send a token.', { details: { header: 'authorization' }, cause, headers: { 'www-authenticate': 'Bearer' }, extensions: { realm: 'api' }, response });
    expect(error.message).toBe('Send a token.');
    expect(error.details).toEqual({ header: 'authorization' });
    expect(error.cause).toBe(cause);
    expect(error.headers).toEqual({ 'www-authenticate': 'Bearer' });
    expect(error.extensions).toEqual({ realm: 'api' });
    expect(error.response).toBe(response);
  });

  it('take the status from the code table, never from the call site', () => {
    for (const code of Object.keys(errorStatus) as ErrorCode[]) {
      const error = new GatewayError(code);
      expect(error.status).toBe(errorStatus[code]);
      expect(error.message).toBe(defaultMessage[code]);
    }
  });

  it('every code has a default message and a status in the 4xx/5xx range', () => {
    expect(Object.keys(defaultMessage).sort()).toEqual(Object.keys(errorStatus).sort());
    for (const status of Object.values(errorStatus)) expect(status >= 400 && status <= 599).toBe(true);
  });

  it('isErrorCode accepts only the catalogue codes', () => {
    expect(isErrorCode('invalid_path')).toBe(true);
    expect(isErrorCode('nope')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode(400)).toBe(false);
  });
});

describe('isGatewayError', () => {
  const brand = Symbol.for('apigate.GatewayError');

  it('is true for a GatewayError and false for anything else', () => {
    expect(isGatewayError(new GatewayError('internal'))).toBe(true);
    expect(isGatewayError(new Error('x'))).toBe(false);
    expect(isGatewayError({ code: 'internal', status: 500, message: 'x' })).toBe(false);
    for (const value of [null, undefined, 0, 'internal', Symbol('x')]) expect(isGatewayError(value)).toBe(false);
  });

  it('is true for an error from another copy of the package, by its Symbol.for brand', () => {
    // What a second copy of @apigate/errors (another version in node_modules) constructs.
    class OtherCopyGatewayError extends Error {
      readonly code = 'forbidden';
      readonly status = 403;
      constructor() {
        super('from the other copy');
        Object.defineProperty(this, brand, { value: true });
      }
    }
    const copy = new OtherCopyGatewayError();
    expect(copy instanceof GatewayError).toBe(false);
    expect(isGatewayError(copy)).toBe(true);
    expect(toGatewayError(copy)).toBe(copy);

    const plain = Object.defineProperty(new Error('branded by hand'), brand, { value: true });
    expect(isGatewayError(plain)).toBe(true);
  });

  it('is false for a brand that is not exactly true, or a look-alike symbol', () => {
    expect(isGatewayError(Object.defineProperty(new Error(), brand, { value: 'yes' }))).toBe(false);
    expect(isGatewayError(Object.defineProperty(new Error(), Symbol('apigate.GatewayError'), { value: true }))).toBe(false);
  });

  it('does not show the brand as an enumerable property', () => {
    const error = new GatewayError('internal');
    expect(Object.keys(error)).not.toContain(brand.toString());
    expect(Object.getOwnPropertySymbols(error)).toEqual([brand]);
    expect(Object.getOwnPropertyDescriptor(error, brand)).toMatchObject({ enumerable: false, writable: false, value: true });
  });
});

describe('toGatewayError', () => {
  it('returns a GatewayError as it is', () => {
    const error = notFound();
    expect(toGatewayError(error)).toBe(error);
  });

  it('wraps anything else into internal, keeping it as the cause', () => {
    const thrown = new TypeError('x is undefined');
    const wrapped = toGatewayError(thrown);
    expect(wrapped.code).toBe('internal');
    expect(wrapped.status).toBe(500);
    expect(wrapped.message).toBe(defaultMessage.internal);
    expect(wrapped.cause).toBe(thrown);
    expect(toGatewayError('a string').cause).toBe('a string');
    expect(toGatewayError(undefined).code).toBe('internal');
  });
});
