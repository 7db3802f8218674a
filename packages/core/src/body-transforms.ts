import { GatewayError } from '@apigate/errors';
import type { CallbackFailure } from './guard.ts';
import type { BodyTransform, Middleware, ResponseHeaders } from './middleware.ts';
import type { ResponseTransforms } from './plan.ts';
import type { RouteInfo } from './request.ts';

/**
 * Whether a response to `method` with `status` carries a body the gateway could stream through a
 * transform: not a HEAD, not 1xx, 204, 205 or 304 (RFC 9110 §6.4.1).
 */
export const hasBody = (method: string, status: number): boolean => method !== 'HEAD' && status >= 200 && status !== 204 && status !== 205 && status !== 304;

const isPair = (stream: unknown): stream is BodyTransform => {
  const pair = stream as Partial<BodyTransform> | null | undefined;
  return typeof pair?.readable?.getReader === 'function' && typeof pair.writable?.getWriter === 'function';
};

/**
 * The body transforms the response phases of one proxied response register, and the headers view
 * those phases edit: it notes whether Content-Length was set (or removed) after the last
 * transform, because only then does a middleware own the length of what the transforms make.
 */
export class BodyTransforms implements ResponseHeaders, ResponseTransforms {
  readonly streams: BodyTransform[] = [];
  readonly #owners: string[] = [];
  readonly #headers: ResponseHeaders;
  readonly #report: (failure: CallbackFailure) => void;
  readonly #route: RouteInfo;
  #owner = '';
  #lengthSet = false;

  constructor(headers: ResponseHeaders, report: (failure: CallbackFailure) => void, route: RouteInfo) {
    this.#headers = headers;
    this.#report = report;
    this.#route = route;
  }

  /** For runResponse: whose phase runs now. */
  readonly visit = (middleware: Middleware): void => {
    this.#owner = middleware.name;
  };

  /** ResponseContext.transform. */
  readonly add = (stream: BodyTransform): boolean => {
    if (!isPair(stream)) throw new TypeError('transform() takes a TransformStream (an object with a readable and a writable stream)');
    this.streams.push(stream);
    this.#owners.push(this.#owner);
    this.#lengthSet = false;
    return true;
  };

  /** After the response phases: the transforms to apply, or undefined when none was registered. */
  finish(): ResponseTransforms | undefined {
    if (this.streams.length === 0) return undefined;
    if (!this.#lengthSet) this.#headers.delete('content-length');
    return this;
  }

  failed(index: number, error: unknown): GatewayError {
    const owner = this.#owners[index] ?? this.#owners[0]!;
    this.#report({ callback: `${owner}.response`, error, route: this.#route });
    return new GatewayError('internal', { details: { reason: 'a response body transform failed', middleware: owner }, cause: error });
  }

  get(name: string): string | undefined {
    return this.#headers.get(name);
  }

  values(name: string): readonly string[] {
    return this.#headers.values(name);
  }

  has(name: string): boolean {
    return this.#headers.has(name);
  }

  set(name: string, value: string | readonly string[]): void {
    this.#touch(name);
    this.#headers.set(name, value);
  }

  append(name: string, value: string): void {
    this.#touch(name);
    this.#headers.append(name, value);
  }

  delete(name: string): void {
    this.#touch(name);
    this.#headers.delete(name);
  }

  #touch(name: string): void {
    if (this.streams.length > 0 && name.length === 14 && name.toLowerCase() === 'content-length') this.#lengthSet = true;
  }
}
