import type { Middleware } from '@apigate/core';

/** What an interceptor is told about the response whose body it gets. */
export interface InterceptedResponse {
  readonly status: number;
  /** The upstream's Content-Type, as sent. */
  readonly contentType: string;
  readonly method: string;
  /** The public request path. */
  readonly path: string;
}

export interface InterceptBodyOptions {
  /**
   * Gets the whole body, decoded as UTF-8, and returns the body the client gets. It runs after the
   * response head was sent: set headers (a new Content-Type) in a response phase of your own.
   */
  intercept: (body: string, response: InterceptedResponse) => string | Uint8Array | Promise<string | Uint8Array>;
  /**
   * The media types intercepted, lower case: an exact type (`application/json`), a `type/*`
   * range, or a `+suffix` (`+json`, for `application/problem+json`). Default JSON and text.
   */
  types?: readonly string[];
  /** The most bytes held for one response; default 1 MiB. */
  limit?: number;
  /**
   * A body over `limit`: `'fail'` (the default) aborts the client connection and settles the
   * request with `500 internal`, as any failed transform does — the client never gets a body the
   * interceptor did not see; `'pass'` sends the upstream's body as it is, unintercepted.
   */
  overLimit?: 'fail' | 'pass';
  /** The middleware's name, for reports and gateway.routes(); default `intercept-body`. */
  name?: string;
}

const defaultTypes: readonly string[] = ['application/json', '+json', 'text/*'];

/** The 1 MiB an interceptor holds at most by default. */
export const defaultInterceptLimit = 1_048_576;

const matcher = (types: readonly string[]): ((contentType: string) => boolean) => {
  const exact = new Set<string>();
  const ranges: string[] = [];
  const suffixes: string[] = [];
  for (const type of types.map((t) => t.toLowerCase())) {
    if (type.startsWith('+')) suffixes.push(type);
    else if (type.endsWith('/*')) ranges.push(type.slice(0, -1));
    else exact.add(type);
  }
  return (contentType) => {
    const essence = contentType.split(';', 1)[0]!.trim().toLowerCase();
    return exact.has(essence) || ranges.some((range) => essence.startsWith(range)) || suffixes.some((suffix) => essence.endsWith(suffix));
  };
};

const overLimitError = (limit: number): Error => new RangeError(`the response body is over the interceptor's limit of ${limit} bytes`);

/**
 * Hands the whole body of a JSON or text response to `intercept` and sends what it returns
 * (http-proxy-middleware's `responseInterceptor`). The body is buffered up to `limit`, on these
 * responses only; every other response streams as before. Responses with a Content-Encoding are
 * passed on untouched, and requests go upstream with `Accept-Encoding: identity` so that the
 * upstream sends bodies the interceptor can read.
 * @example
 * get('/users/{id}', { use: [interceptBody({ intercept: (body) => JSON.stringify({ ...JSON.parse(body), via: 'gateway' }) })] })
 */
export const interceptBody = ({ intercept, types = defaultTypes, limit = defaultInterceptLimit, overLimit = 'fail', name = 'intercept-body' }: InterceptBodyOptions): Middleware => {
  if (typeof intercept !== 'function') throw new TypeError('interceptBody() needs an `intercept` function');
  if (!Number.isSafeInteger(limit) || limit <= 0) throw new TypeError('interceptBody(): `limit` must be a positive whole number of bytes');
  const intercepted = matcher(types);
  return {
    name,
    describe: { interceptsBody: true, limit },
    upstream: (ctx) => ctx.headers.set('accept-encoding', 'identity'),
    response: (ctx) => {
      if (ctx.gatewayMade) return;
      const contentType = ctx.headers.get('content-type');
      if (contentType === undefined || !intercepted(contentType)) return;
      const encoding = ctx.headers.get('content-encoding');
      if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return;
      const declared = Number(ctx.headers.get('content-length') ?? Number.NaN);
      if (declared > limit && overLimit === 'pass') return;
      const response: InterceptedResponse = { status: ctx.status, contentType, method: ctx.method, path: ctx.path };
      const held: Uint8Array[] = [];
      let size = 0;
      let passing = false;
      const stream = new TransformStream<Uint8Array, Uint8Array>({
        transform: (chunk, controller) => {
          if (passing) return controller.enqueue(chunk);
          // A declared length over the limit fails before a byte is held.
          if (declared > limit) throw overLimitError(limit);
          size += chunk.byteLength;
          if (size <= limit) return void held.push(chunk);
          if (overLimit === 'fail') throw overLimitError(limit);
          passing = true;
          for (const part of held.splice(0)) controller.enqueue(part);
          controller.enqueue(chunk);
        },
        flush: async (controller) => {
          if (passing) return;
          const bytes = new Uint8Array(size);
          let offset = 0;
          for (const part of held.splice(0)) {
            bytes.set(part, offset);
            offset += part.byteLength;
          }
          const result = await intercept(new TextDecoder().decode(bytes), response);
          const out = typeof result === 'string' ? new TextEncoder().encode(result) : result;
          if (out.byteLength > 0) controller.enqueue(out);
        },
      });
      ctx.transform(stream);
    },
  };
};
