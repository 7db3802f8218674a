import type { ForwardPlan, Transport, UpstreamConfig } from '@apigate/core';
import { upstreamDefaults } from '@apigate/core';
import { GatewayError } from '@apigate/errors';
import { connectionListed, forwardingHeaders, hopByHop } from '../headers.ts';
import { WebResponseHeaders } from './response-headers.ts';

/** One request for the fetch transport: the client's request, the headers and body to send. */
export interface FetchExchange {
  readonly request: Request;
  /** The request headers as hooks left them; cleaned in place before sending. */
  readonly headers: Headers;
  /** What to send as the body; null for none. */
  readonly body: BodyInit | null;
  readonly clientIp: string | undefined;
  readonly trusted: boolean;
  /** Renders an error the client gets when the upstream failed before responding. */
  readonly fail: (error: GatewayError) => Response;
  /** Receives the transport's result. */
  readonly respond: (response: Response) => void;
}

const unreachable = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL', 'UND_ERR_CONNECT_TIMEOUT']);
const reset = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET']);

const timeoutReason = Symbol('apigate.upstreamTimeout');
const clientReason = Symbol('apigate.clientClosed');

/**
 * Maps a fetch failure to the gateway's code for it. Node's fetch names the cause (`ECONNREFUSED`);
 * workerd says only "Network connection lost.", for a refused connection and a reset alike, and
 * that reads as `upstream_unreachable`.
 */
export const fetchError = (error: unknown): GatewayError => {
  const cause = (error as { cause?: { code?: string } }).cause;
  const code = cause?.code ?? (error as { code?: string }).code ?? '';
  const details = { upstreamCode: code, reason: (error as Error)?.message };
  if (unreachable.has(code) || /network connection lost/i.test(String((error as Error)?.message))) return new GatewayError('upstream_unreachable', { details, cause: error });
  if (reset.has(code)) return new GatewayError('upstream_reset', { details, cause: error });
  return new GatewayError('bad_gateway', { details, cause: error });
};

/** Hop-by-hop and Connection-listed headers out of the upstream's response, in place. */
const dropHopByHop = (headers: Headers): void => {
  for (const name of connectionListed(headers.get('connection') ?? undefined)) headers.delete(name);
  for (const name of hopByHop) headers.delete(name);
};

/**
 * The fetch transport, for edge runtimes: streams the request body up and the response body back
 * (no buffering), times out through an AbortSignal, passes the client's abort to the upstream,
 * applies the same header hygiene and error mapping as the Node transport.
 */
export class FetchTransport implements Transport<FetchExchange> {
  readonly #requestTimeout: number;
  readonly #fetch: typeof fetch;

  constructor(config: UpstreamConfig = {}, fetchImpl: typeof fetch = (input, init) => fetch(input, init)) {
    this.#requestTimeout = config.requestTimeout ?? upstreamDefaults.requestTimeout;
    this.#fetch = fetchImpl;
  }

  forward(exchange: FetchExchange, plan: ForwardPlan): void {
    this.#send(exchange, plan).then(exchange.respond, (error: unknown) => exchange.respond(exchange.fail(error instanceof GatewayError ? error : fetchError(error))));
  }

  async #send(exchange: FetchExchange, plan: ForwardPlan): Promise<Response> {
    const { request, headers, body, clientIp, trusted } = exchange;
    const url = new URL(request.url);
    const host = headers.get('host') ?? url.host;
    // The client's hop-by-hop headers went before the hooks ran (fetchHandler); these are any a
    // hook set, which the gateway owns.
    for (const name of hopByHop) headers.delete(name);
    headers.delete('expect');
    headers.delete('host');
    const forwarding = forwardingHeaders({
      clientIp,
      trusted,
      proto: url.protocol === 'https:' ? 'https' : 'http',
      host,
      xForwardedFor: headers.get('x-forwarded-for') ?? undefined,
      xForwardedProto: headers.get('x-forwarded-proto') ?? undefined,
      xForwardedHost: headers.get('x-forwarded-host') ?? undefined,
      forwarded: headers.get('forwarded') ?? undefined,
    });
    headers.delete('x-forwarded-for');
    headers.delete('x-forwarded-host');
    for (const [name, value] of Object.entries(forwarding)) headers.set(name, value as string);
    if (body !== request.body) headers.delete('content-length');

    const controller = new AbortController();
    // requestTimeout bounds the upstream's silence, as the Node transport's socket timeout does:
    // every chunk of the response, and of an upload of unknown length, starts it over. An upload
    // with a Content-Length is sent as it is: workerd sends a piped-through stream chunked, even
    // with the header set, so that one stays timed from the start until the response headers.
    const timeout = this.#requestTimeout;
    const expire = (): void => controller.abort(timeoutReason);
    let timer = setTimeout(expire, timeout);
    let settled = false;
    const touch = (): void => {
      clearTimeout(timer);
      // An upload still going after the response ended arms no new timer.
      if (!settled) timer = setTimeout(expire, timeout);
    };
    const onClientAbort = (): void => controller.abort(clientReason);
    // A client that left while hooks ran has an aborted signal that fires no more events.
    if (request.signal.aborted) onClientAbort();
    else request.signal.addEventListener('abort', onClientAbort, { once: true });
    let upstream: Response;
    try {
      const sent =
        body instanceof ReadableStream && !headers.has('content-length')
          ? body.pipeThrough(
              new TransformStream<Uint8Array, Uint8Array>({
                transform(chunk, stream) {
                  touch();
                  stream.enqueue(chunk);
                },
              }),
            )
          : body;
      const init: RequestInit & { duplex?: 'half' } = { method: plan.method, headers, body: sent, redirect: 'manual', signal: controller.signal };
      if (body !== null) init.duplex = 'half';
      upstream = await this.#fetch(`${plan.backend.origin}${plan.uri}`, init);
    } catch (error) {
      settled = true;
      clearTimeout(timer);
      request.signal.removeEventListener('abort', onClientAbort);
      const failure =
        controller.signal.reason === timeoutReason
          ? new GatewayError('upstream_timeout', { details: { reason: 'the upstream did not respond within requestTimeout' }, cause: error })
          : controller.signal.reason === clientReason
            ? new GatewayError('client_closed', { cause: error })
            : fetchError(error);
      plan.settle({ error: failure });
      return exchange.fail(failure);
    }
    touch();

    const responseHeaders = new Headers(upstream.headers);
    dropHopByHop(responseHeaders);
    if (responseHeaders.has('content-encoding')) {
      // fetch has already decoded the body: the encoding and length no longer describe it.
      responseHeaders.delete('content-encoding');
      responseHeaders.delete('content-length');
    }
    const status = upstream.status;
    if (plan.intercepts) plan.respond(status, new WebResponseHeaders(responseHeaders));
    if (upstream.body === null) {
      settled = true;
      clearTimeout(timer);
      request.signal.removeEventListener('abort', onClientAbort);
      plan.settle({ status });
      return new Response(null, { status, statusText: upstream.statusText, headers: responseHeaders });
    }
    const done = (result: Parameters<ForwardPlan['settle']>[0]): void => {
      settled = true;
      clearTimeout(timer);
      request.signal.removeEventListener('abort', onClientAbort);
      plan.settle(result);
    };
    const relay = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, stream) {
        touch();
        stream.enqueue(chunk);
      },
      flush: () => done({ status }),
    });
    // The relay is aborted here rather than by pipeTo, so that the client's body stream fails with
    // the GatewayError, not with fetch's abort reason (a private symbol on a timeout).
    upstream.body.pipeTo(relay.writable, { preventAbort: true }).catch((error: unknown) => {
      // The upstream failed or went silent mid-body (the client sees an aborted response), or the client left.
      const timedOut = controller.signal.reason === timeoutReason;
      const clientLeft = !timedOut && (request.signal.aborted || controller.signal.reason === clientReason);
      const code = timedOut ? 'upstream_timeout' : clientLeft ? 'client_closed' : 'upstream_reset';
      const failure = new GatewayError(code, { cause: error });
      done({ error: failure });
      controller.abort(clientReason);
      relay.writable.abort(failure).catch(() => undefined);
    });
    return new Response(withDeclaredLength(relay.readable, responseHeaders), { status, statusText: upstream.statusText, headers: responseHeaders });
  }
}

type FixedLengthStreamClass = new (length: number) => TransformStream<Uint8Array, Uint8Array>;

/**
 * Workers send a streamed body chunked whatever Content-Length says, unless it flows through their
 * FixedLengthStream, which also errors on a short body: the client keeps the length, and can tell
 * a truncated response from a whole one. Elsewhere the runtime honours the header as it is.
 */
const withDeclaredLength = (body: ReadableStream<Uint8Array>, headers: Headers): ReadableStream<Uint8Array> => {
  const FixedLengthStream = (globalThis as { FixedLengthStream?: FixedLengthStreamClass }).FixedLengthStream;
  const declared = headers.get('content-length');
  if (FixedLengthStream === undefined || declared === null || !/^\d+$/.test(declared)) return body;
  return body.pipeThrough(new FixedLengthStream(Number(declared)));
};
