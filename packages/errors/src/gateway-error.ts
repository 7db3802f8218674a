import { defaultMessage, errorStatus, type ErrorCode } from './codes.ts';
import type { GatewayResponse } from './response.ts';

const errorBrand = Symbol.for('apigate.GatewayError');

export interface GatewayErrorOptions {
  /** A user-safe message; the code's default message when absent. */
  message?: string;
  /** Debug details for logs and observers; never rendered to the client. */
  details?: unknown;
  /** The underlying error, kept for logs; never rendered to the client. */
  cause?: unknown;
  /** Response headers the rendered error carries (e.g. `allow`, `retry-after`). */
  headers?: Record<string, string>;
  /** User-safe extra members for structured renderers (JSON, problem+json). */
  extensions?: Record<string, unknown>;
  /** A complete response to send instead of the rendered error. */
  response?: GatewayResponse;
  /**
   * A registered RFC 9457 problem type for this error (the rate limiter's `quota-exceeded`): the
   * problem+json renderer uses its `type` and `title` instead of `typeBase` + code and the status
   * phrase, and adds its `members`. The other renderers ignore it.
   */
  problemType?: ProblemType;
}

/** An RFC 9457 problem type: an absolute type URI, its title, and the extension members it defines. */
export interface ProblemType {
  /** An absolute URI, e.g. `https://iana.org/assignments/http-problem-types#quota-exceeded`. */
  readonly type: string;
  readonly title: string;
  /** Extension members the type defines, only in problem details; they cannot override the standard ones. */
  readonly members?: Readonly<Record<string, unknown>>;
}

/**
 * The one error type of the gateway: a stable `code` from a closed set, the HTTP status from the
 * code's table entry, a user-safe message, and debug details that stay in the logs.
 */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: unknown;
  readonly headers: Readonly<Record<string, string>> | undefined;
  readonly extensions: Readonly<Record<string, unknown>> | undefined;
  readonly response: GatewayResponse | undefined;
  readonly problemType: ProblemType | undefined;

  constructor(code: ErrorCode, options: GatewayErrorOptions = {}) {
    super(options.message ?? defaultMessage[code], options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'GatewayError';
    Object.defineProperty(this, errorBrand, { value: true });
    this.code = code;
    this.status = errorStatus[code];
    this.details = options.details;
    this.headers = options.headers;
    this.extensions = options.extensions;
    this.response = options.response;
    this.problemType = options.problemType;
  }
}

/** True for a GatewayError from any copy of this package (checks a brand, not only the prototype). */
export const isGatewayError = (value: unknown): value is GatewayError =>
  value instanceof GatewayError ||
  (typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[errorBrand] === true);

/** Wraps anything thrown into a GatewayError; unknown failures become `internal` with the cause kept. */
export const toGatewayError = (value: unknown): GatewayError =>
  isGatewayError(value) ? value : new GatewayError('internal', { cause: value });

type Constructor = (message?: string, options?: Omit<GatewayErrorOptions, 'message'>) => GatewayError;
const make =
  (code: ErrorCode): Constructor =>
  (message, options) =>
    new GatewayError(code, { ...options, message });

export const badRequest = make('bad_request');
export const unauthorized = make('unauthorized');
export const forbidden = make('forbidden');
export const notFound = make('not_found');
export const methodNotAllowed = make('method_not_allowed');
export const payloadTooLarge = make('payload_too_large');
export const unsupportedMediaType = make('unsupported_media_type');
export const validationFailed = make('validation_failed');
export const tooManyRequests = make('too_many_requests');
export const internal = make('internal');
export const notImplemented = make('not_implemented');
export const badGateway = make('bad_gateway');
export const serviceUnavailable = make('service_unavailable');
export const gatewayTimeout = make('upstream_timeout');
