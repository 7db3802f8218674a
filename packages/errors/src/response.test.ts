import { describe, expect, it } from '@jest/globals';
import { isGatewayResponse, json, respond } from './index.ts';

describe('respond()', () => {
  it('builds a branded response with lower-case header names', () => {
    const response = respond(302, null, { Location: '/login', 'X-Trace': 't' });
    expect(response).toEqual({ status: 302, headers: { location: '/login', 'x-trace': 't' }, body: null });
    expect(isGatewayResponse(response)).toBe(true);
  });

  it('defaults to no body and no headers', () => {
    expect(respond(204)).toEqual({ status: 204, headers: {}, body: null });
  });

  it('keeps a string or byte body as it is', () => {
    const bytes = new Uint8Array([1, 2, 3]);
    expect(respond(200, bytes).body).toBe(bytes);
    expect(respond(200, 'hi').body).toBe('hi');
  });

  it.each([0, 100, 101, 199, 600, 200.5, Number.NaN])('refuses the non-final status %p', (status) => {
    expect(() => respond(status)).toThrow(RangeError);
  });
});

describe('json()', () => {
  it('serializes the value with a JSON content type, headers lower-cased', () => {
    const response = json(418, { short: true }, { 'X-Kind': 'teapot' });
    expect(response).toEqual({ status: 418, headers: { 'content-type': 'application/json; charset=utf-8', 'x-kind': 'teapot' }, body: '{"short":true}' });
    expect(isGatewayResponse(response)).toBe(true);
  });

  it('lets the caller choose another JSON content type', () => {
    expect(json(200, [], { 'Content-Type': 'application/vnd.api+json' }).headers).toEqual({ 'content-type': 'application/vnd.api+json' });
  });
});

describe('isGatewayResponse', () => {
  it('is false for a look-alike object that respond() did not build', () => {
    expect(isGatewayResponse({ status: 200, headers: {}, body: null })).toBe(false);
    expect(isGatewayResponse(null)).toBe(false);
    expect(isGatewayResponse('response')).toBe(false);
  });

  it('is true for a response from another copy of the package, by its Symbol.for brand', () => {
    const copy = Object.defineProperty({ status: 200, headers: {}, body: null }, Symbol.for('apigate.GatewayResponse'), { value: true });
    expect(isGatewayResponse(copy)).toBe(true);
  });
});
