/**
 * Re-serializes a request body that the host framework already parsed (express.json(),
 * express.urlencoded(), express.text(), express.raw(), koa-bodyparser, ...) so the upstream
 * gets the body, with a Content-Length that matches. Runtime-neutral.
 */

const encoder = new TextEncoder();
const jsonType = /^application\/(?:[\w.+-]+\+)?json\b|\+json\b/i;
const formType = /^application\/x-www-form-urlencoded\b/i;

const appendForm = (pairs: URLSearchParams, key: string, value: unknown): void => {
  if (value === undefined) return;
  if (Array.isArray(value)) {
    const primitive = value.every((item) => item === null || typeof item !== 'object');
    value.forEach((item, index) => appendForm(pairs, primitive ? key : `${key}[${index}]`, item));
  } else if (value !== null && typeof value === 'object') {
    for (const name of Object.keys(value)) appendForm(pairs, `${key}[${name}]`, (value as Record<string, unknown>)[name]);
  } else {
    pairs.append(key, value === null ? '' : String(value));
  }
};

/** Form-encodes a parsed object: arrays of scalars as repeated keys, nesting in bracket notation. */
export const encodeForm = (body: object): string => {
  const pairs = new URLSearchParams();
  for (const key of Object.keys(body)) appendForm(pairs, key, (body as Record<string, unknown>)[key]);
  return pairs.toString();
};

/**
 * The bytes to send for a parsed body, by its content type; undefined when there is no body
 * (`undefined`/`null`).
 */
export const serializeParsedBody = (body: unknown, contentType: string | undefined): Uint8Array | undefined => {
  if (body === undefined || body === null) return undefined;
  if (body instanceof Uint8Array) return body;
  if (typeof body === 'string') return encoder.encode(body);
  if (typeof body === 'object' && contentType !== undefined && formType.test(contentType)) return encoder.encode(encodeForm(body));
  if (contentType === undefined || jsonType.test(contentType) || typeof body === 'object') return encoder.encode(JSON.stringify(body));
  return encoder.encode(String(body));
};
