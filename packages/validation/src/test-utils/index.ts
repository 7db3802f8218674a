import type { BodySource, ForwardPlan, Gateway, Plan, RequestHeaders, RequestIO, RespondPlan } from '@apigate/core';
import { GatewayError, type GatewayResponse } from '@apigate/errors';

/** RequestHeaders over a plain object, whose `record` shows what would go upstream. */
export interface TestHeaders extends RequestHeaders {
  readonly record: Record<string, string>;
}

export const testHeaders = (init: Record<string, string> = {}): TestHeaders => {
  const record: Record<string, string> = {};
  for (const [name, value] of Object.entries(init)) record[name.toLowerCase()] = value;
  return {
    record,
    get: (name) => (Object.hasOwn(record, name.toLowerCase()) ? record[name.toLowerCase()] : undefined),
    has: (name) => Object.hasOwn(record, name.toLowerCase()),
    set: (name, value) => {
      record[name.toLowerCase()] = value;
    },
    delete: (name) => {
      delete record[name.toLowerCase()];
    },
  };
};

export interface TestBodyOptions {
  readonly contentType?: string | undefined;
  /** The declared Content-Length; the body's byte length unless given (`null`: chunked, none declared). */
  readonly contentLength?: number | null;
  /** The raw body, as a stream would deliver it. */
  readonly bytes?: string | Uint8Array;
  /** What a body parser in front of the gateway made of the body; the stream is then gone. */
  readonly parsed?: { readonly value: unknown };
}

/** An in-process BodySource that keeps count of read() calls and of the bytes it handed out. */
export interface TestBody extends BodySource {
  /** The limits read() was called with. */
  readonly reads: number[];
  /** Bytes delivered by read(): 0 when a read was refused before any byte was taken. */
  bytesRead: number;
}

/**
 * A BodySource honouring core's contract: read() refuses a declared length over the limit before
 * taking a byte, and cuts a longer (chunked) stream at the limit; both with payload_too_large.
 */
export const testBody = (options: TestBodyOptions = {}): TestBody => {
  const bytes = typeof options.bytes === 'string' ? new TextEncoder().encode(options.bytes) : (options.bytes ?? new Uint8Array(0));
  const contentLength = options.contentLength === null ? undefined : (options.contentLength ?? (options.parsed ? undefined : bytes.byteLength));
  const body: TestBody = {
    contentType: options.contentType,
    contentLength,
    parsed: options.parsed,
    reads: [],
    bytesRead: 0,
    read(limit) {
      body.reads.push(limit);
      if (options.parsed) return Promise.reject(new Error('read() called on a body a parser already consumed'));
      if (contentLength !== undefined && contentLength > limit) {
        return Promise.reject(new GatewayError('payload_too_large', { details: { limit, declared: contentLength } }));
      }
      if (bytes.byteLength > limit) {
        body.bytesRead = limit + 1;
        return Promise.reject(new GatewayError('payload_too_large', { details: { limit, received: limit + 1 } }));
      }
      body.bytesRead = bytes.byteLength;
      return Promise.resolve(bytes);
    },
  };
  return body;
};

/** A request's I/O: headers (a `content-type` from the body unless given) and an optional body. */
export const testIO = (options: { readonly headers?: Record<string, string>; readonly body?: BodySource } = {}): RequestIO & { headers: TestHeaders } => {
  const init: Record<string, string> = { ...options.headers };
  if (options.body?.contentType !== undefined && !Object.keys(init).some((name) => name.toLowerCase() === 'content-type')) init['content-type'] = options.body.contentType;
  return { headers: testHeaders(init), clientIp: '127.0.0.1', body: options.body };
};

/** Matches and handles one request in-process; fails the test when the path does not match. */
export const run = async (gateway: Gateway<object>, method: string, url: string, io: RequestIO = testIO()): Promise<Plan> => {
  const match = gateway.match(method, url);
  if (match === undefined) throw new Error(`${method} ${url} matched no gateway path`);
  return await gateway.handle(match, io);
};

export const bodyText = (response: GatewayResponse): string =>
  response.body === null ? '' : typeof response.body === 'string' ? response.body : new TextDecoder().decode(response.body);

export const asForward = (plan: Plan): ForwardPlan => {
  if (plan.kind !== 'forward') throw new Error(`expected a forward plan, got ${plan.response.status} ${bodyText(plan.response)}`);
  return plan;
};

export const asRespond = (plan: Plan): RespondPlan => {
  if (plan.kind !== 'respond') throw new Error(`expected a respond plan, got a forward to ${plan.backend.url}${plan.uri}`);
  return plan;
};

/** The upstream body of a forward plan as text; undefined when the client's body goes on unchanged. */
export const forwardedBody = (plan: ForwardPlan): string | undefined => (plan.body === undefined ? undefined : new TextDecoder().decode(plan.body));
