import { describe, expect, it } from '@jest/globals';
import { isGatewayError } from '@apigate/errors';
import { checkMediaType, parseMediaType, type BodyKind } from './media-type.ts';

const refusal = (kind: BodyKind, contentType: string | undefined, contentEncoding?: string): { code: string; status: number; message: string } => {
  try {
    checkMediaType(kind, contentType, contentEncoding);
  } catch (error) {
    if (isGatewayError(error)) return { code: error.code, status: error.status, message: error.message };
    throw error;
  }
  throw new Error(`checkMediaType accepted ${kind} with ${String(contentType)}`);
};

describe('parseMediaType', () => {
  it('lower-cases the essence and parameter names, trims, and unquotes values', () => {
    const type = parseMediaType(' Multipart/Form-Data ; BOUNDARY="a b" ; charset=UTF-8');
    expect(type?.essence).toBe('multipart/form-data');
    expect(Object.fromEntries(type?.params ?? [])).toEqual({ boundary: 'a b', charset: 'UTF-8' });
  });

  it('gives undefined without a content type', () => {
    expect(parseMediaType(undefined)).toBeUndefined();
  });
});

describe('checkMediaType', () => {
  describe('json', () => {
    it.each([
      'application/json',
      'application/json; charset=utf-8',
      'APPLICATION/JSON; charset=UTF-8',
      'application/json;charset="utf-8"',
      'application/json; charset=utf8',
      'application/vnd.api+json',
      'application/merge-patch+json',
      'application/problem+json; charset=utf-8',
    ])('accepts %s', (type) => {
      expect(() => checkMediaType('json', type, undefined)).not.toThrow();
    });

    it.each([
      ['no content type', undefined],
      ['an empty content type', ''],
      ['text/plain', 'text/plain'],
      ['text/json', 'text/json'],
      ['application/jsonp', 'application/jsonp'],
      ['application/json-seq', 'application/json-seq'],
      ['application/x-www-form-urlencoded', 'application/x-www-form-urlencoded'],
      ['multipart/form-data', 'multipart/form-data; boundary=x'],
    ])('refuses %s with 415 unsupported_media_type', (_name, type) => {
      expect(refusal('json', type)).toEqual({ code: 'unsupported_media_type', status: 415, message: 'The request body must be application/json (or a +json type).' });
    });

    it.each(['application/json; charset=latin1', 'application/json; charset=iso-8859-1', 'application/json; charset=utf-16'])('refuses a non-UTF-8 charset (%s)', (type) => {
      expect(refusal('json', type)).toEqual({ code: 'unsupported_media_type', status: 415, message: 'The request body must be JSON in UTF-8.' });
    });
  });

  describe('form', () => {
    it.each(['application/x-www-form-urlencoded', 'Application/X-WWW-Form-Urlencoded; charset=UTF-8'])('accepts %s', (type) => {
      expect(() => checkMediaType('form', type, undefined)).not.toThrow();
    });

    it.each([
      ['no content type', undefined],
      ['application/json', 'application/json'],
      ['multipart/form-data', 'multipart/form-data; boundary=x'],
      ['text/plain', 'text/plain'],
    ])('refuses %s with 415', (_name, type) => {
      expect(refusal('form', type)).toEqual({ code: 'unsupported_media_type', status: 415, message: 'The request body must be application/x-www-form-urlencoded.' });
    });

    it('refuses charset=latin1', () => {
      expect(refusal('form', 'application/x-www-form-urlencoded; charset=latin1')).toEqual({
        code: 'unsupported_media_type',
        status: 415,
        message: 'The request body must be a form in UTF-8.',
      });
    });
  });

  describe('multipart', () => {
    it.each(['multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxk', 'MULTIPART/FORM-DATA; BOUNDARY="quoted boundary"'])('accepts %s', (type) => {
      expect(() => checkMediaType('multipart', type, undefined)).not.toThrow();
    });

    it.each([
      ['multipart without a boundary', 'multipart/form-data'],
      ['an empty boundary', 'multipart/form-data; boundary='],
      ['an empty quoted boundary', 'multipart/form-data; boundary=""'],
      ['multipart/mixed', 'multipart/mixed; boundary=x'],
      ['no content type', undefined],
      ['application/json', 'application/json'],
    ])('refuses %s with 415', (_name, type) => {
      expect(refusal('multipart', type)).toEqual({ code: 'unsupported_media_type', status: 415, message: 'The request body must be multipart/form-data with a boundary.' });
    });

    it('passes a Content-Encoding through: the body is streamed, never decoded', () => {
      expect(() => checkMediaType('multipart', 'multipart/form-data; boundary=x', 'gzip')).not.toThrow();
    });
  });

  describe('Content-Encoding', () => {
    it.each(['gzip', 'br', 'deflate', 'gzip, identity'])('refuses a %s-encoded json or form body with 415', (encoding) => {
      const expected = { code: 'unsupported_media_type', status: 415, message: 'A compressed request body (Content-Encoding) is not accepted here.' };
      expect(refusal('json', 'application/json', encoding)).toEqual(expected);
      expect(refusal('form', 'application/x-www-form-urlencoded', encoding)).toEqual(expected);
    });

    it('accepts identity, in any case', () => {
      expect(() => checkMediaType('json', 'application/json', 'identity')).not.toThrow();
      expect(() => checkMediaType('form', 'application/x-www-form-urlencoded', ' Identity ')).not.toThrow();
    });

    it('checks the type before the encoding', () => {
      expect(refusal('json', 'text/plain', 'gzip').message).toBe('The request body must be application/json (or a +json type).');
    });
  });
});
