import { GatewayError } from '@apigate/errors';

/** A Content-Type split into its lower-case essence and parameters. */
export interface MediaType {
  readonly essence: string;
  readonly params: ReadonlyMap<string, string>;
}

export const parseMediaType = (value: string | undefined): MediaType | undefined => {
  if (value === undefined) return undefined;
  const [essence = '', ...rest] = value.split(';');
  const params = new Map<string, string>();
  for (const param of rest) {
    const eq = param.indexOf('=');
    if (eq === -1) continue;
    params.set(param.slice(0, eq).trim().toLowerCase(), param.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
  }
  return { essence: essence.trim().toLowerCase(), params };
};

const jsonEssence = /^application\/(?:json|[a-z0-9.+-]+\+json)$/;

const unsupported = (expected: string, got: string | undefined): GatewayError =>
  new GatewayError('unsupported_media_type', { message: `The request body must be ${expected}.`, details: { contentType: got } });

const checkCharset = (type: MediaType, expected: string, raw: string | undefined): void => {
  const charset = type.params.get('charset')?.toLowerCase();
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') throw unsupported(`${expected} in UTF-8`, raw);
};

export type BodyKind = 'json' | 'form' | 'multipart';

/** The Content-Type values nearly every JSON client sends, accepted without parsing. */
const plainJson = new Set(['application/json', 'application/json; charset=utf-8', 'application/json;charset=utf-8', 'application/json; charset=UTF-8']);

const checkType = (kind: BodyKind, contentType: string | undefined): void => {
  const type = parseMediaType(contentType);
  if (kind === 'json') {
    if (!type || !jsonEssence.test(type.essence)) throw unsupported('application/json (or a +json type)', contentType);
    checkCharset(type, 'JSON', contentType);
  } else if (kind === 'form') {
    if (!type || type.essence !== 'application/x-www-form-urlencoded') throw unsupported('application/x-www-form-urlencoded', contentType);
    checkCharset(type, 'a form', contentType);
  } else if (!type || type.essence !== 'multipart/form-data' || !type.params.get('boundary')) {
    throw unsupported('multipart/form-data with a boundary', contentType);
  }
};

/** Checks the Content-Type (and Content-Encoding) a route's body kind accepts; 415 otherwise. */
export const checkMediaType = (kind: BodyKind, contentType: string | undefined, contentEncoding: string | undefined): void => {
  if (kind !== 'json' || contentType === undefined || !plainJson.has(contentType)) checkType(kind, contentType);
  if (kind !== 'multipart' && contentEncoding !== undefined && contentEncoding.trim().toLowerCase() !== 'identity') {
    throw new GatewayError('unsupported_media_type', { message: 'A compressed request body (Content-Encoding) is not accepted here.', details: { contentEncoding } });
  }
};
