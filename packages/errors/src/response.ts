const responseBrand = Symbol.for('apigate.GatewayResponse');

export type ResponseBody = string | Uint8Array | null;

/**
 * A complete response that the gateway sends as it is: what renderers produce and what a hook
 * returns to answer a request itself. Header names are lower case.
 */
export interface GatewayResponse {
  readonly status: number;
  /** A repeated header (a second Set-Cookie that middleware appended) is an array of its values. */
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: ResponseBody;
}

const lowerCaseKeys = (headers: Record<string, string>): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const name of Object.keys(headers)) out[name.toLowerCase()] = headers[name]!;
  return out;
};

/**
 * Builds a response that bypasses the error renderer.
 * @example return respond(302, null, { location: '/login' })
 */
export const respond = (status: number, body: ResponseBody = null, headers: Record<string, string> = {}): GatewayResponse => {
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    throw new RangeError(`respond() needs a final HTTP status (200-599), got ${status}`);
  }
  const response = { status, headers: lowerCaseKeys(headers), body };
  Object.defineProperty(response, responseBrand, { value: true });
  return response;
};

/**
 * Builds a JSON response that bypasses the error renderer.
 * @example throw unauthorized('no token', { response: json(401, { login: '/login' }) })
 */
export const json = (status: number, value: unknown, headers: Record<string, string> = {}): GatewayResponse =>
  respond(status, JSON.stringify(value), { 'content-type': 'application/json; charset=utf-8', ...lowerCaseKeys(headers) });

/** True for a response built by respond()/json(), from any copy of this package. */
export const isGatewayResponse = (value: unknown): value is GatewayResponse =>
  typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[responseBrand] === true;
