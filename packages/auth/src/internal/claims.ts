import type { JWTPayload } from 'jose';

/** The scopes a token grants: its `scope` claim (space-separated, RFC 9068) and its `scp` claim (a list or a string). */
export const grantedScopes = (claims: JWTPayload): Set<string> => {
  const granted = new Set<string>();
  const add = (value: unknown): void => {
    if (typeof value === 'string') for (const scope of value.split(' ')) if (scope !== '') granted.add(scope);
  };
  add(claims.scope);
  if (Array.isArray(claims.scp)) for (const scope of claims.scp) add(scope);
  else add(claims.scp);
  return granted;
};

/** A claim as a header value; undefined when it has none that can go in a header. */
export const headerValue = (value: unknown): string | undefined => {
  if (value === undefined || value === null) return undefined;
  const text = typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value);
  // Signed by the issuer, but still never a way to split a header.
  return /^[\x20-\x7e\t]*$/.test(text) && text !== '' ? text : undefined;
};
