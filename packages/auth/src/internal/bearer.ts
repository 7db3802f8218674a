import { GatewayError } from '@apigate/errors';

/** A value that fits in an auth-param's quoted-string as it is: no quote, backslash or control character. */
export const quotable = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;
/** A scope-token (RFC 6749 §3.3). */
export const scopeToken = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** The RFC 6750 §3.1 error attributes, and `unauthorized` for a request with no credentials at all. */
export type BearerCode = 'unauthorized' | 'invalid_request' | 'invalid_token' | 'insufficient_scope';

export interface BearerRefusal {
  readonly realm: string;
  /** User-safe; it goes into `error_description`, so it must be `quotable`. */
  readonly message?: string;
  /** For logs: what exactly failed. */
  readonly details?: unknown;
  readonly cause?: unknown;
  /** The scopes the resource needs, for `insufficient_scope`. */
  readonly scope?: readonly string[];
}

/** The `WWW-Authenticate` challenge of RFC 6750 §3: no error attribute when no credentials came. */
export const challenge = (code: BearerCode, { realm, message, scope }: BearerRefusal): string => {
  const params = [`realm="${realm}"`];
  if (code !== 'unauthorized') {
    params.push(`error="${code}"`);
    if (message !== undefined) params.push(`error_description="${message}"`);
  }
  if (code === 'insufficient_scope' && scope !== undefined && scope.length > 0) params.push(`scope="${scope.join(' ')}"`);
  return `Bearer ${params.join(', ')}`;
};

/** A refusal as a GatewayError whose status comes from the catalogue and which carries its challenge. */
export const bearerError = (code: BearerCode, refusal: BearerRefusal): GatewayError =>
  new GatewayError(code, {
    message: refusal.message,
    details: refusal.details,
    cause: refusal.cause,
    headers: { 'www-authenticate': challenge(code, refusal) },
  });
