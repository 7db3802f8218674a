import { describe, expect, it } from '@jest/globals';
import { isGatewayError } from '@apigate/errors';
import { checkPoison, parseJson } from './json.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const refusal = (input: Uint8Array, maxDepth = 128): { code: string; message: string } => {
  try {
    parseJson(input, maxDepth);
  } catch (error) {
    if (isGatewayError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('parseJson accepted the input');
};

describe('parseJson', () => {
  it('parses UTF-8 JSON', () => {
    expect(parseJson(bytes('{"a":[1,"é"]}'), 128)).toEqual({ a: [1, 'é'] });
  });

  it.each([
    ['an empty body', bytes(' \n'), 'The request body is empty.'],
    ['a byte order mark', Uint8Array.from([0xef, 0xbb, 0xbf, ...bytes('{}')]), 'The JSON body must not start with a byte order mark.'],
    ['invalid UTF-8', Uint8Array.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), 'The request body is not valid UTF-8.'],
    ['malformed JSON', bytes('{"a":'), 'The request body is not valid JSON.'],
    ['a __proto__ key', bytes('{"a":{"__proto__":{"x":1}}}'), 'The key "__proto__" is not allowed.'],
    ['an escaped __proto__ key', bytes('{"\\u005f_proto__":{}}'), 'The key "__proto__" is not allowed.'],
    ['constructor.prototype', bytes('[{"constructor":{"prototype":{}}}]'), 'The key "constructor.prototype" is not allowed.'],
  ])('refuses %s with 400 invalid_json', (_name, input, message) => {
    expect(refusal(input)).toEqual({ code: 'invalid_json', message });
  });

  it('refuses nesting deeper than the limit without parsing it, strings not counted', () => {
    expect(refusal(bytes(`${'['.repeat(10_000)}${']'.repeat(10_000)}`))).toEqual({ code: 'invalid_json', message: 'The JSON body is nested deeper than 128 levels.' });
    expect(parseJson(bytes(`{"a":"${'['.repeat(500)}"}`), 2)).toEqual({ a: '['.repeat(500) });
    expect(parseJson(bytes('[[1]]'), 2)).toEqual([[1]]);
    expect(refusal(bytes('[[[1]]]'), 2).code).toBe('invalid_json');
  });

  it('keeps a constructor key that holds no prototype', () => {
    expect(parseJson(bytes('{"constructor":"x"}'), 128)).toEqual({ constructor: 'x' });
  });
});

describe('checkPoison', () => {
  const refusalOf = (run: () => void): { code: string; message: string } | undefined => {
    try {
      run();
    } catch (error) {
      if (isGatewayError(error)) return { code: error.code, message: error.message };
      throw error;
    }
    return undefined;
  };
  const nested = (levels: number): unknown => {
    let value: unknown = 1;
    for (let i = 0; i < levels; i++) value = i % 2 === 0 ? [value] : { a: value };
    return value;
  };

  it('refuses poisonous keys in a parsed value with the code it is given', () => {
    const value = JSON.parse('{"a":[{"__proto__":{"x":1}}]}') as unknown;
    expect(refusalOf(() => checkPoison(value))).toEqual({ code: 'invalid_json', message: 'The key "__proto__" is not allowed.' });
    expect(refusalOf(() => checkPoison(value, 'invalid_form'))?.code).toBe('invalid_form');
    expect(refusalOf(() => checkPoison({ constructor: { prototype: {} } }, 'invalid_form'))).toEqual({ code: 'invalid_form', message: 'The key "constructor.prototype" is not allowed.' });
  });

  it('counts depth as JSON text does, scalars not counted', () => {
    expect(refusalOf(() => checkPoison(nested(2), 'invalid_json', 2))).toBeUndefined();
    expect(refusalOf(() => checkPoison(nested(3), 'invalid_json', 2))).toEqual({ code: 'invalid_json', message: 'The JSON body is nested deeper than 2 levels.' });
    expect(refusalOf(() => checkPoison('text', 'invalid_json', 1))).toBeUndefined();
  });

  it('walks a 100 000-deep value without overflowing the stack', () => {
    expect(refusalOf(() => checkPoison(nested(100_000)))).toBeUndefined();
    expect(refusalOf(() => checkPoison(nested(100_000), 'invalid_json', 128))?.message).toBe('The JSON body is nested deeper than 128 levels.');
  });
});
