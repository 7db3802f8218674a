/**
 * The closed catalogue of runtime error codes and the one table that gives each its HTTP status.
 * A code is a stable, machine-readable contract: clients may branch on it, so codes are only added,
 * never renamed. docs/errors.md documents every entry; a test fails when the two drift.
 */
export const errorStatus = {
  bad_request: 400,
  invalid_path: 400,
  invalid_query: 400,
  invalid_json: 400,
  invalid_form: 400,
  invalid_request: 400,
  unauthorized: 401,
  invalid_token: 401,
  forbidden: 403,
  insufficient_scope: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  payload_too_large: 413,
  unsupported_media_type: 415,
  validation_failed: 422,
  too_many_requests: 429,
  rate_limited: 429,
  header_too_large: 431,
  client_closed: 499,
  internal: 500,
  not_implemented: 501,
  bad_gateway: 502,
  upstream_unreachable: 502,
  upstream_reset: 502,
  service_unavailable: 503,
  no_backend_available: 503,
  middleware_unavailable: 503,
  auth_unavailable: 503,
  upstream_timeout: 504,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof errorStatus;

/** The user-safe message a code gets when the call site gives none. */
export const defaultMessage: Record<ErrorCode, string> = {
  bad_request: 'The request is malformed.',
  invalid_path: 'The request path is not allowed.',
  invalid_query: 'The query string is malformed.',
  invalid_json: 'The request body is not valid JSON.',
  invalid_form: 'The form data is malformed.',
  invalid_request: 'The credentials are sent in a malformed way.',
  unauthorized: 'Authentication is required.',
  invalid_token: 'The access token is invalid.',
  forbidden: 'Access to this resource is forbidden.',
  insufficient_scope: 'The access token lacks the scope this resource requires.',
  not_found: 'No such resource.',
  method_not_allowed: 'The method is not allowed for this resource.',
  request_timeout: 'The request was not received in time.',
  payload_too_large: 'The request body is too large.',
  unsupported_media_type: 'The request body has an unsupported media type.',
  validation_failed: 'The request does not match the expected input.',
  too_many_requests: 'Too many requests.',
  rate_limited: 'The rate limit for this resource was reached.',
  header_too_large: 'The request headers are too large.',
  client_closed: 'The client closed the connection before the response.',
  internal: 'The gateway failed to handle the request.',
  not_implemented: 'The method is not supported.',
  bad_gateway: 'The upstream returned an invalid response.',
  upstream_unreachable: 'The upstream could not be reached.',
  upstream_reset: 'The upstream closed the connection before responding.',
  service_unavailable: 'The service is unavailable.',
  no_backend_available: 'No backend is available for this request.',
  middleware_unavailable: 'The gateway cannot serve this request: a middleware it needs failed to start.',
  auth_unavailable: 'The credentials cannot be checked right now.',
  upstream_timeout: 'The upstream did not respond in time.',
};

/** Reason phrases for the statuses the catalogue uses (problem+json `title`). */
export const statusText: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  499: 'Client Closed Request',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export const isErrorCode = (value: unknown): value is ErrorCode =>
  typeof value === 'string' && Object.hasOwn(errorStatus, value);
