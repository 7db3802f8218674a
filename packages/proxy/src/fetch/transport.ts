import type { Backend, ForwardPlan, ResponseTransforms, Transport, UpstreamConfig } from '@apigate/core';
import { upstreamDefaults } from '@apigate/core';
import { clientGoneCode, clientTimeoutCode, connectionListed, forwardingHeaders, hopByHop, noBindingCode, TransportError, upstreamTimeoutCode } from '@apigate/core/exchange';
import { GatewayError } from '@apigate/errors';
import { WebResponseHeaders } from './response-headers.ts';
import { toWebResponse } from './response.ts';
import { bodyResponse, FixedLengthStream, IdentityTransformStream, runtimeReadable } from './runtime-streams.ts';

/** One request for the fetch transport: the client's request, the headers and body to send. */
export interface FetchExchange {
  readonly request: Request;
  /** The request headers as hooks left them; cleaned in place before sending. */
  readonly headers: Headers;
  /**
   * Whether `headers` already hold no hop-by-hop header but Transfer-Encoding (the client's went
   * before the hooks ran, and none set one): the transport then skips its own pass over them.
   */
  readonly cleaned?: boolean | undefined;
  /**
   * What to send as the body: the client's stream, bytes the gateway holds, or null for none.
   * Not DOM's `BodyInit`: these types are the fetch API's as Node's types have them too, so an app
   * compiled without the DOM lib reads this declaration.
   */
  readonly body: ReadableStream<Uint8Array> | Uint8Array | null;
  /**
   * Whether `body` is the client's own stream (`request.body`), whose Content-Length still holds.
   * Unset, the transport compares the two, which costs a real Request on @hono/node-server: its
   * lightweight request builds one the first time `body` is read.
   */
  readonly clientBody?: boolean | undefined;
  readonly clientIp: string | undefined;
  readonly trusted: boolean;
  /** The platform's env (a Worker's bindings), where `binding://NAME` backends are looked up. */
  readonly env?: object | undefined;
  /** Renders an error the client gets when the upstream failed before responding. */
  readonly fail: (error: GatewayError) => Response;
  /** Receives the transport's result. */
  readonly respond: (response: Response) => void;
}

const timeoutReason = Symbol('apigate.upstreamTimeout');
const clientTimeoutReason = Symbol('apigate.clientTimeout');
const clientReason = Symbol('apigate.clientClosed');

interface Limits {
  readonly request: number;
  readonly client: number;
}

/**
 * Which side a fetch exchange waits on, and the deadline of that side's silence (DESIGN.md rule 7).
 * Web streams are pulled, so the side is known from who holds a pending read: the exchange waits
 * on the **client** while it reads the client's upload (the next bytes are the client's to send),
 * and while the response has a chunk ready that the client has not asked for (nothing pulls the
 * relay); it waits on the **upstream** otherwise: for fetch to take the next upload chunk (it pulls
 * when the connection accepts bytes), for the response head, and while a read of the response
 * body is pending because the client asked for more.
 *
 * Per chunk this costs one Date.now() and no timer operation: one lazy timer wakes at most every
 * min(requestTimeout, clientTimeout), checks the silence of the side waited on, and sleeps again
 * for what is left. Never sleeping longer than the shorter limit is what makes a switch of side
 * safe without re-arming: any new deadline lies after the pending wake-up.
 */
class Clock {
  uploadOnClient = false;
  downloadOnClient = false;
  readonly #limits: Limits;
  readonly #expire: (onClient: boolean) => void;
  readonly #nap: number;
  #since = Date.now();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(limits: Limits, expire: (onClient: boolean) => void) {
    this.#limits = limits;
    this.#expire = expire;
    this.#nap = Math.min(limits.request, limits.client);
    this.#timer = setTimeout(this.#check, this.#nap);
  }

  get onClient(): boolean {
    return this.uploadOnClient || this.downloadOnClient;
  }

  /** Bytes moved, or the side changed: the silence starts over. */
  tick(): void {
    this.#since = Date.now();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** A new attempt: the silence starts over, and the timer runs again if it had fired. */
  restart(): void {
    this.tick();
    this.#timer ??= setTimeout(this.#check, this.#nap);
  }

  readonly #check = (): void => {
    const onClient = this.onClient;
    const left = this.#since + (onClient ? this.#limits.client : this.#limits.request) - Date.now();
    if (left > 0) {
      this.#timer = setTimeout(this.#check, Math.min(left, this.#nap));
      return;
    }
    this.#timer = undefined;
    this.#expire(onClient);
  };
}

/** A reader of a body's chunks, as a default reader has them or as chunkReader gathers them. */
interface ChunkReader {
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  cancel(reason?: unknown): Promise<void>;
}

/** The most a relayed chunk gathers, and the most a small chunk's copy may be (chunkReader). */
const relayChunk = 64 * 1024;
const smallChunk = relayChunk / 4;

/**
 * Reads a body in chunks of what has arrived, up to relayChunk bytes. workerd hands a fetch body
 * (an upstream's response, a client's upload) to a default reader in 4 KiB pieces, and relaying a
 * piece costs about as much CPU as relaying 64 KiB (in docs/benchmarks.md's workerd cases a 1 MiB
 * upload came in some 260 pieces): a BYOB read into a 64 KiB buffer takes what is there in one
 * go, and, as any read, returns as soon as there is something, so a trickling body (events) flows
 * as before. A small chunk is copied out and its buffer read into again, so that a trickle holds
 * no 64 KiB buffer per chunk. A large chunk's buffer is read into again too, by the next read:
 * a chunk is the caller's only until then, and both callers write it to one of workerd's own
 * streams and wait for that write, which settles once the other side has taken the bytes (workerd
 * copies a written chunk, or holds it only until then). A new zeroed 64 KiB buffer per read was a
 * third of this function's self time in a profile of relayed 1 MiB uploads in workerd (`pnpm bench
 * --profile apigate-hono-fetch-workerd --workloads post1m`: 11.7 % of the samples, 7.8 % after). A
 * stream that is not a byte stream, or a body outside workerd (gatherReads), is read as it comes.
 */
const chunkReader = (body: ReadableStream<Uint8Array>): ChunkReader => {
  let byob: ReadableStreamBYOBReader;
  try {
    if (!gatherReads) return body.getReader();
    byob = body.getReader({ mode: 'byob' });
  } catch {
    return body.getReader();
  }
  let spare: Uint8Array<ArrayBuffer> | undefined;
  return {
    async read() {
      const buffer = spare ?? new Uint8Array(relayChunk);
      spare = undefined;
      const { done, value } = await byob.read(buffer);
      if (done || value === undefined) return { done: true, value: undefined };
      spare = new Uint8Array(value.buffer);
      return { done: false, value: value.byteLength > smallChunk ? value : value.slice() };
    },
    cancel: (reason) => byob.cancel(reason),
  };
};

/**
 * The client's upload, relayed so that the clock knows when the exchange waits on the client.
 * `broken` hears a failed read (the client left mid-upload): workerd would end the upload it sends
 * with a clean terminator and wait on for the upstream's answer, so the attempt is aborted instead.
 * `length` is the declared Content-Length, which workerd keeps only through a FixedLengthStream.
 */
const relayUpload = (body: ReadableStream<Uint8Array>, clock: Clock, broken: () => void, length: number | undefined): ReadableStream<Uint8Array> => {
  const reader = chunkReader(body);
  if (IdentityTransformStream === undefined) return pulledUpload(reader, clock, broken);
  // workerd: written into one of its own streams, which fetch reads natively, at one read and one
  // write in JS per chunk; a JS stream piped into a FixedLengthStream took twice that (as bodySink).
  // A write settles once fetch has taken the chunk: until then the upstream is the slow side.
  let open = true;
  const sink = bodySink(length, (reason) => {
    // fetch cancelled the upload (the upstream answered or failed): the client's body goes too.
    open = false;
    reader.cancel(reason).catch(ignore);
  });
  const pump = async (): Promise<void> => {
    for (;;) {
      clock.uploadOnClient = true;
      clock.tick();
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        broken();
        sink.error(error);
        return;
      }
      clock.uploadOnClient = false;
      clock.tick();
      if (!open) return;
      if (chunk.done) {
        sink.close();
        return;
      }
      await sink.write(chunk.value);
      if (!open) return;
    }
  };
  pump().catch((error: unknown) => {
    broken();
    sink.error(error);
  });
  return sink.readable;
};

/** relayUpload outside workerd: a JS stream that reads the client's next chunk when fetch pulls. */
const pulledUpload = (reader: ChunkReader, clock: Clock, broken: () => void): ReadableStream<Uint8Array> =>
  new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        clock.uploadOnClient = true;
        clock.tick();
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          broken();
          throw error;
        }
        clock.uploadOnClient = false;
        clock.tick();
        if (chunk.done) controller.close();
        else controller.enqueue(chunk.value);
      },
      cancel: (reason) => reader.cancel(reason),
    },
    // Pulled only when fetch asks: between a chunk and the next pull, the upstream is the slow side.
    { highWaterMark: 0 },
  );

/**
 * What an attempt that the transport's own signal aborted met, as a TransportError the exchange
 * maps (core's upstreamFailure); fetch's own failures (a refused connection) are given as they are.
 */
const attemptError = (reason: unknown, error: unknown): unknown => {
  if (reason === timeoutReason) return new TransportError(upstreamTimeoutCode, 'the upstream did not respond within requestTimeout');
  if (reason === clientTimeoutReason) return new TransportError(clientTimeoutCode, clientSilence);
  if (reason === clientReason) return new TransportError(clientGoneCode, 'the client closed the connection');
  return error;
};

/** What a Worker's service binding (or any Fetcher) offers: its own fetch. */
interface Fetcher {
  fetch(input: Request | string, init?: RequestInit): Promise<Response>;
}

const bindingScheme = 'binding://';

/**
 * The fetch of one attempt: the runtime's to a URL backend, or the `fetch` of the service binding
 * that a `binding://NAME` backend names, looked up in the platform env per attempt (an env is the
 * request's). The upstream Worker gets the client's origin with the upstream path, as it would
 * if it served that origin itself; the gateway only names which Worker, never a URL the client
 * chose (DESIGN.md rule 5). A binding the env lacks fails the attempt as unreachable.
 */
const attemptFetch = (origin: string, env: object | undefined, fallback: typeof fetch): { fetch: (url: string, init: RequestInit) => Promise<Response>; base: string | undefined } => {
  if (!origin.startsWith(bindingScheme)) return { fetch: fallback, base: origin };
  const name = origin.slice(bindingScheme.length);
  const binding = (env as Record<string, unknown> | undefined)?.[name];
  if (typeof (binding as Partial<Fetcher> | undefined)?.fetch !== 'function') {
    const what = env === undefined ? 'the adapter passed no platform env' : binding === undefined ? `env.${name} is not bound` : `env.${name} is not a service binding (it has no fetch method)`;
    const failure = new TransportError(noBindingCode, `no service binding for ${origin}: ${what}`);
    return { fetch: () => Promise.reject(failure), base: undefined };
  }
  return { fetch: (url, init) => (binding as Fetcher).fetch(url, init), base: undefined };
};

/** Hop-by-hop and Connection-listed headers out of the upstream's response, in place. */
const dropHopByHop = (headers: Headers): void => {
  for (const name of connectionListed(headers.get('connection') ?? undefined)) if (!hopByHop.has(name)) headers.delete(name);
  for (const name of hopByHop) headers.delete(name);
};

/**
 * fetch() takes neither a Unix socket nor per-request TLS settings: sending such a backend's
 * request to its URL instead would reach another address, or one not verified as configured.
 */
const nodeOnlyBackend = (backend: Backend): GatewayError =>
  new GatewayError('internal', {
    details: { reason: 'the fetch transport cannot use a backend with a Unix socket or TLS settings; use the Node transport', backend: backend.url },
  });

/**
 * Where the path of an absolute URL the runtime already parsed starts: the first slash after the
 * scheme's `//` (-1 when there is none), so its origin and target are slices, not a URL object.
 */
export const pathStart = (url: string): number => url.indexOf('/', url.indexOf('//') + 2);

/**
 * The fetch transport, for edge runtimes: streams the request body up and the response body back
 * (no buffering), times the side it waits on (upstream or client) and aborts through an AbortSignal, passes the client's abort to the upstream,
 * applies the same header hygiene and error mapping as the Node transport.
 */
export class FetchTransport implements Transport<FetchExchange> {
  readonly #limits: Limits;
  readonly #fetch: typeof fetch;

  constructor(config: UpstreamConfig = {}, fetchImpl: typeof fetch = (input, init) => fetch(input, init)) {
    this.#limits = { request: config.requestTimeout ?? upstreamDefaults.requestTimeout, client: config.clientTimeout ?? upstreamDefaults.clientTimeout };
    this.#fetch = fetchImpl;
  }

  forward(exchange: FetchExchange, plan: ForwardPlan): void {
    if (plan.backend.socketPath !== undefined || plan.backend.tls !== undefined) {
      exchange.respond(toWebResponse(exchange.request.method, plan.refuse(nodeOnlyBackend(plan.backend))));
      return;
    }
    this.#send(exchange, plan).then(exchange.respond, (cause: unknown) => {
      // e.g. a header value the runtime refuses to send: answered, never an unhandled rejection.
      const failure = new GatewayError('internal', { details: { reason: 'the upstream request could not be created' }, cause });
      exchange.respond(toWebResponse(exchange.request.method, plan.refuse(failure)));
    });
  }

  async #send(exchange: FetchExchange, plan: ForwardPlan): Promise<Response> {
    const { request, headers, body, clientIp, trusted } = exchange;
    // A Request's URL is absolute and already parsed by the runtime: no URL object per request.
    const slash = pathStart(request.url);
    const origin = slash === -1 ? request.url : request.url.slice(0, slash);
    const host = headers.get('host') ?? origin.slice(origin.indexOf('//') + 2);
    // The client's hop-by-hop headers went before the hooks ran (fetchHandler); these are any a
    // hook set, which the gateway owns. In workerd every Headers call costs a crossing into the
    // runtime and a copy of the name, so no header is read, or deleted, that cannot matter.
    if (exchange.cleaned === true) headers.delete('transfer-encoding');
    else for (const name of hopByHop) headers.delete(name);
    headers.delete('expect');
    headers.delete('host');
    // What the client says it was forwarded from counts only from a trusted proxy (and
    // X-Forwarded-For also where the runtime gave no client address): forwardingHeaders reads
    // nothing else.
    const forwarding = forwardingHeaders({
      clientIp,
      trusted,
      proto: origin.startsWith('https:') ? 'https' : 'http',
      host,
      xForwardedFor: trusted || clientIp === undefined ? (headers.get('x-forwarded-for') ?? undefined) : undefined,
      xForwardedProto: trusted ? (headers.get('x-forwarded-proto') ?? undefined) : undefined,
      xForwardedHost: trusted ? (headers.get('x-forwarded-host') ?? undefined) : undefined,
      xForwardedPort: trusted ? (headers.get('x-forwarded-port') ?? undefined) : undefined,
      forwarded: trusted ? (headers.get('forwarded') ?? undefined) : undefined,
    });
    // Set replaces a value the client sent; only a header the gateway does not set is deleted.
    if (forwarding['x-forwarded-for'] === undefined) headers.delete('x-forwarded-for');
    if (forwarding['x-forwarded-host'] === undefined) headers.delete('x-forwarded-host');
    for (const name in forwarding) headers.set(name, forwarding[name as keyof typeof forwarding]!);
    if (!(exchange.clientBody ?? body === request.body)) headers.delete('content-length');

    let controller = new AbortController();
    let streaming: ((failure: GatewayError) => void) | undefined;
    const own = plan.upstream;
    const limits = own === undefined ? this.#limits : { request: own.requestTimeout ?? this.#limits.request, client: own.clientTimeout ?? this.#limits.client };
    const clock = new Clock(limits, (onClient) => {
      if (!onClient) controller.abort(timeoutReason);
      // A response the client stopped reading has no read pending to fail: end it here.
      else if (streaming !== undefined) streaming(new GatewayError('client_closed', { details: { reason: clientSilence } }));
      else controller.abort(clientTimeoutReason);
    });
    const onClientAbort = (): void => controller.abort(clientReason);
    // A client that left while hooks ran has an aborted signal that fires no more events.
    if (request.signal.aborted) onClientAbort();
    else request.signal.addEventListener('abort', onClientAbort, { once: true });
    const finish = (): void => {
      clock.stop();
      request.signal.removeEventListener('abort', onClientAbort);
    };
    const done = (result: Parameters<ForwardPlan['settle']>[0]): void => {
      finish();
      plan.settle(result);
    };
    let sent = body;
    if (body instanceof ReadableStream) {
      // workerd sends a stream chunked whatever Content-Length says, unless it flows through a
      // FixedLengthStream (relayUpload's there); Node's fetch honours the header as it is.
      sent = relayUpload(body as ReadableStream<Uint8Array>, clock, onClientAbort, declaredLength(headers));
    }
    // Bytes in memory (or none) can go again; the client's stream cannot.
    const replayable = !(body instanceof ReadableStream);
    let upstream: Response;
    for (;;) {
      try {
        // The lib types take only ArrayBuffer-backed bytes; the gateway's never sit on a SharedArrayBuffer.
        const init: RequestInit & { duplex?: 'half'; cf?: object } = { method: plan.method, headers, body: sent as RequestInit['body'], redirect: 'manual', signal: controller.signal };
        if (body !== null) init.duplex = 'half';
        // workerd reads `cf` (cache TTL, cache key, …) on its fetch; other runtimes ignore the field.
        if (plan.upstream?.cf !== undefined) init.cf = plan.upstream.cf;
        // Read per attempt: a retry may go to another backend.
        const target = attemptFetch(plan.backend.origin, exchange.env, this.#fetch);
        upstream = await target.fetch(`${target.base ?? origin}${plan.uri}`, init);
        break;
      } catch (error) {
        // fetch replays a request that met a stale pooled connection itself, where it can.
        const decision = plan.failed({ error: attemptError(controller.signal.reason, error), stale: false, replayable: replayable && !request.signal.aborted, started: false });
        if (decision.next === 'retry') {
          if (plan.backend.socketPath !== undefined || plan.backend.tls !== undefined) {
            finish();
            return toWebResponse(request.method, plan.refuse(nodeOnlyBackend(plan.backend)));
          }
          controller = new AbortController();
          clock.restart();
          continue;
        }
        finish();
        if (decision.next === 'replay') throw new Error('unreachable: the fetch transport reports no stale connection');
        const response = exchange.fail(decision.answer ?? decision.error);
        if (decision.close) response.headers.set('connection', 'close');
        return response;
      }
    }
    clock.tick();

    const responseHeaders = new Headers(upstream.headers);
    dropHopByHop(responseHeaders);
    if (responseHeaders.has('content-encoding')) {
      // fetch has already decoded the body: the encoding and length no longer describe it.
      responseHeaders.delete('content-encoding');
      responseHeaders.delete('content-length');
    }
    const status = upstream.status;
    // The upstream's framing, before a response phase may edit the header.
    const declared = responseHeaders.get('content-length');
    const transforms = plan.intercepts ? plan.respond(status, new WebResponseHeaders(responseHeaders)) : undefined;
    if (upstream.body === null) {
      done({ status });
      return new Response(null, { status, statusText: upstream.statusText, headers: responseHeaders });
    }
    if (transforms === undefined && declared !== null && /^\d+$/.test(declared) && Number(declared) <= wholeBodyLimit) {
      // A small body of a declared length is read whole while the clock counts the upstream's
      // silence, and answered as bytes, which the runtime sends itself: in workerd the relay below
      // (a JS stream, then a FixedLengthStream to keep the length) took about a third of the CPU
      // time of a proxied tiny GET (docs/benchmarks.md, "In workerd"). Nothing waits on the client
      // meanwhile, and at most wholeBodyLimit bytes are held, as a buffering proxy would.
      // Read chunk by chunk, not with arrayBuffer(): workerd's arrayBuffer() of a body whose
      // connection dies waits on, where a read fails at once; and the chunks that came go on.
      const chunks: Uint8Array[] = [];
      try {
        await readWhole(upstream.body, Number(declared), chunks);
      } catch (error) {
        const reason = request.signal.aborted && controller.signal.reason !== timeoutReason ? clientReason : controller.signal.reason;
        finish();
        const decision = plan.failed({ error: attemptError(reason, error), stale: false, replayable: false, started: true });
        const failure = decision.next === 'end' ? decision.error : new GatewayError('internal');
        // As when the relay meets it: the client gets the head and what came, then its body fails
        // with the GatewayError (through a FixedLengthStream on workerd, which would otherwise
        // end the chunked body cleanly); never a second response.
        // Pulled: an error() would drop what is still queued.
        let next = 0;
        const cut = new ReadableStream<Uint8Array>(
          {
            pull(stream) {
              if (next < chunks.length) stream.enqueue(chunks[next++]!);
              else stream.error(failure);
            },
          },
          { highWaterMark: 0 },
        );
        return bodyResponse(withDeclaredLength(cut, responseHeaders), { status, statusText: upstream.statusText, headers: responseHeaders });
      }
      done({ status });
      return new Response(joined(chunks) as BodyInit, { status, statusText: upstream.statusText, headers: responseHeaders });
    }
    const reader = chunkReader(upstream.body);
    // With transforms, the exchange ends when their output does, not when the upstream's body does.
    let ended = false;
    const end = (result: Parameters<ForwardPlan['settle']>[0]): void => {
      ended = true;
      done(result);
    };
    let cut: ((failure: GatewayError) => void) | undefined;
    // Without transforms the relayed body is the client's, so it keeps the length the response
    // phase left (withDeclaredLength's); the transformed output gets it below instead.
    const relay = bodySink(transforms === undefined ? declaredLength(responseHeaders) : undefined, (reason) => {
      // The client went away mid-body, or (with transforms) a transform failed or the client left:
      // the transformed body has settled the exchange then.
      if (streaming === undefined) return;
      streaming = undefined;
      if (transforms === undefined) end({ error: new GatewayError('client_closed', { cause: reason }) });
      controller.abort(clientReason);
      reader.cancel(reason).catch(() => undefined);
    });
    const abort = (failure: GatewayError): void => {
      controller.abort(clientReason);
      reader.cancel(failure).catch(() => undefined);
      // The client's body fails with the GatewayError, not with fetch's abort reason (a private
      // symbol on a timeout): it sees an aborted response, never a second one.
      relay.error(failure);
      cut?.(failure);
    };
    const fail = (failure: GatewayError): void => {
      streaming = undefined;
      end({ error: failure });
      abort(failure);
    };
    streaming = fail;
    // The upstream's own framing: once that many bytes came, the body is whole, and no further
    // read (a resumption of JS in workerd) waits for its end.
    let due = declared !== null && /^\d+$/.test(declared) ? Number(declared) : undefined;
    const pump = async (): Promise<void> => {
      for (;;) {
        // The client has taken what came (or has room for it): the wait is the upstream's.
        clock.downloadOnClient = false;
        clock.tick();
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          if (streaming === undefined) return;
          // The upstream failed or went silent mid-body, or the client left.
          const reason = request.signal.aborted && controller.signal.reason !== timeoutReason ? clientReason : controller.signal.reason;
          streaming = undefined;
          ended = true;
          finish();
          const decision = plan.failed({ error: attemptError(reason, error), stale: false, replayable: false, started: true });
          abort(decision.next === 'end' ? decision.error : new GatewayError('internal'));
          return;
        }
        // The exchange ended elsewhere (the client left) while the read was pending.
        if (streaming === undefined) return;
        if (due !== undefined && !chunk.done) due -= chunk.value.byteLength;
        if (chunk.done || due === 0) {
          streaming = undefined;
          if (transforms === undefined) end({ status });
          else clock.stop();
          // Queued before the end, as a chunk the client has not taken yet always was.
          if (!chunk.done) void relay.write(chunk.value);
          relay.close();
          return;
        }
        // Until the client takes it, the wait is the client's.
        clock.downloadOnClient = true;
        clock.tick();
        // Settles once the client took the chunk, or the exchange ended (bodySink's `gone` has run).
        await relay.write(chunk.value);
        if (streaming === undefined) return;
      }
    };
    // Run from promise callbacks, not a stream's pull: a throw here would be an unhandled rejection
    // (on Node, the process's end) rather than an errored body, so it ends the exchange instead.
    pump().catch((error: unknown) => {
      if (streaming !== undefined) fail(new GatewayError('internal', { cause: error }));
    });
    let sending = relay.readable;
    if (transforms !== undefined) {
      const stop = (): void => {
        streaming = undefined;
        controller.abort(clientReason);
        reader.cancel().catch(() => undefined);
      };
      const transformed = transformBody(relay.readable, transforms, {
        ended: () => ended,
        complete: () => end({ status }),
        failed: (failure) => {
          end({ error: failure });
          stop();
        },
        clientLeft: (reason) => {
          end({ error: new GatewayError('client_closed', { cause: reason }) });
          stop();
        },
      });
      sending = withDeclaredLength(transformed.body, responseHeaders);
      cut = transformed.cut;
    }
    return bodyResponse(sending, { status, statusText: upstream.statusText, headers: responseHeaders });
  }
}

/**
 * Where the relay writes a body for the client to read: the writable side of one of the runtime's
 * own streams where it has them (workerd's FixedLengthStream, which keeps a declared length, or
 * IdentityTransformStream), handing the client the runtime's readable, so that a chunk costs one
 * read and one write in JS; in workerd a JS ReadableStream piped through a FixedLengthStream took
 * twice that (docs/benchmarks.md, "In workerd"). Elsewhere a pulled JS stream, as before.
 *
 * `write` settles once the client has taken the chunk or has room for it, or once the body ended
 * (closed, errored, or the client went away); it never rejects. `gone` runs once if the client
 * cancels the body, never after `close` or `error`.
 */
interface BodySink {
  readonly readable: ReadableStream<Uint8Array>;
  write(chunk: Uint8Array): Promise<void>;
  close(): void;
  error(failure: unknown): void;
}

const bodySink = (length: number | undefined, gone: (reason: unknown) => void): BodySink => {
  let open = true;
  const leave = (reason: unknown): void => {
    if (!open) return;
    open = false;
    gone(reason);
  };
  const native = length !== undefined && FixedLengthStream !== undefined ? new FixedLengthStream(length) : IdentityTransformStream !== undefined ? new IdentityTransformStream() : undefined;
  if (native !== undefined) {
    const writer = native.writable.getWriter();
    // The client's cancel errors the writable: a pending write and `closed` reject with it.
    writer.closed.catch(leave);
    return {
      readable: runtimeReadable(native),
      write: (chunk) => writer.write(chunk).catch(leave),
      close: () => {
        open = false;
        writer.close().catch(ignore);
      },
      error: (failure) => {
        open = false;
        writer.abort(failure).catch(ignore);
      },
    };
  }
  let stream!: ReadableStreamDefaultController<Uint8Array>;
  let wake: (() => void) | undefined;
  const release = (): void => {
    const waiting = wake;
    wake = undefined;
    waiting?.();
  };
  const readable = new ReadableStream<Uint8Array>({
    start(controller) {
      stream = controller;
    },
    // The client read what was queued: the pending write may go on.
    pull: release,
    cancel(reason) {
      leave(reason);
      release();
    },
  });
  return {
    readable,
    write(chunk) {
      stream.enqueue(chunk);
      // Taken by a pending read, or queued within the high-water mark: no wait.
      if (stream.desiredSize! > 0) return Promise.resolve();
      return new Promise<void>((resolve) => (wake = resolve));
    },
    close() {
      open = false;
      stream.close();
    },
    error(failure) {
      open = false;
      stream.error(failure);
      release();
    },
  };
};

/** A Content-Length header's value as a number, when it is one. */
const declaredLength = (headers: Headers): number | undefined => {
  const declared = headers.get('content-length');
  return declared !== null && /^\d+$/.test(declared) ? Number(declared) : undefined;
};

const clientSilence = 'the client was silent for longer than clientTimeout';

/**
 * The largest response body (by its Content-Length, when it has one) that the fetch transport
 * reads whole before answering instead of relaying it chunk by chunk: about what a TCP connection's
 * first flight carries, so that a client would rarely have seen its first bytes much sooner.
 */
const wholeBodyLimit = 16 * 1024;

/**
 * Reads a body of a declared length into `chunks`, where what came stays when a read fails, and
 * stops once the length is in: workerd resumes JS for every read, so a small body is one read
 * instead of that and another for its end (about a tenth of a proxied tiny GET's CPU time). A byte
 * stream is read with BYOB reads into buffers of what is still due, which also gathers workerd's 4
 * KiB pieces; another stream, or a body outside workerd (gatherReads), is read as it comes, to its end.
 */
const readWhole = async (body: ReadableStream<Uint8Array>, length: number, chunks: Uint8Array[]): Promise<void> => {
  let byob: ReadableStreamBYOBReader | undefined;
  try {
    // A BYOB read takes no empty buffer.
    if (gatherReads && length > 0) byob = body.getReader({ mode: 'byob' });
  } catch {
    // Not a byte stream.
  }
  if (byob === undefined) {
    const reader = body.getReader();
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) chunks.push(chunk.value);
    return;
  }
  // Each read into a buffer of its own: a read transfers the buffer it is given, which would empty a chunk kept from it.
  for (let filled = 0; filled < length; ) {
    const { done, value } = await byob.read(new Uint8Array(length - filled));
    if (done) return;
    chunks.push(value);
    filled += value.byteLength;
  }
};

/** The chunks of a body as one array (the one chunk itself, most of the time). */
const joined = (chunks: readonly Uint8Array[]): Uint8Array => {
  if (chunks.length === 1) return chunks[0]!;
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
};

const ignore = (): void => undefined;

/** How a transformed body tells the exchange how it ended. */
interface BodyEnding {
  /** Whether the exchange has settled already (the upstream failed, the clock expired, …). */
  readonly ended: () => boolean;
  /** The last transform's output ended: the client has the whole response. */
  readonly complete: () => void;
  /** A transform failed first: settle with its error and abort the upstream. */
  readonly failed: (failure: GatewayError) => void;
  /** The client went away. */
  readonly clientLeft: (reason: unknown) => void;
}

/**
 * Runs a relayed body through the response phases' transforms, each fed by its own pump that
 * waits for the transform to take a chunk before reading the next: backpressure reaches back to
 * the relay, so the relay's clock still sees a client that does not read as the client's wait.
 * The pumps know which stage failed (a rejected write or close is that stage's own error; a
 * rejected read is the stage before it, or the upstream, which has settled already), so the
 * failure is reported as the middleware that added it. `cut` errors the client's body when the
 * exchange ends elsewhere while the client is not reading.
 */
const transformBody = (
  relayed: ReadableStream<Uint8Array>,
  transforms: ResponseTransforms,
  ending: BodyEnding,
): { body: ReadableStream<Uint8Array>; cut: (failure: GatewayError) => void } => {
  const { streams } = transforms;
  let out!: ReadableStreamDefaultController<Uint8Array>;
  const stageFailed = (index: number, error: unknown): void => {
    if (ending.ended()) return;
    const failure = transforms.failed(index, error);
    ending.failed(failure);
    out.error(failure);
  };
  const pump = async (source: ReadableStream<Uint8Array>, index: number): Promise<void> => {
    const reader = source.getReader();
    const writer = streams[index]!.writable.getWriter();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        if (index > 0) stageFailed(index - 1, error);
        writer.abort(error).catch(ignore);
        return;
      }
      try {
        if (chunk.done) {
          await writer.close();
          return;
        }
        await writer.write(chunk.value);
      } catch (error) {
        stageFailed(index, error);
        reader.cancel(error).catch(ignore);
        return;
      }
    }
  };
  let source = relayed;
  for (const [index, stream] of streams.entries()) {
    void pump(source, index);
    source = stream.readable;
  }
  const last = source.getReader();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      out = controller;
    },
    async pull(controller) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await last.read();
      } catch (error) {
        stageFailed(streams.length - 1, error);
        controller.error(error);
        return;
      }
      // The exchange ended elsewhere (and errored this body) while the read was pending.
      if (ending.ended()) return;
      if (chunk.done) {
        ending.complete();
        controller.close();
        return;
      }
      controller.enqueue(chunk.value);
    },
    cancel(reason) {
      if (!ending.ended()) ending.clientLeft(reason);
      last.cancel(reason).catch(ignore);
    },
  });
  return { body, cut: (failure) => out.error(failure) };
};

/**
 * Whether bodies are read with BYOB reads (chunkReader, readWhole): in workerd, which hands a
 * default reader 4 KiB pieces and resumes JS for every read. Node's fetch hands out what each
 * socket read got, and there the BYOB reads' copies made a relayed 64 KiB GET about a third
 * slower (apps/bench, apigate-hono-fetch, req per CPU-s).
 */
const gatherReads = FixedLengthStream !== undefined;

/**
 * Workers send a streamed body chunked whatever Content-Length says, unless it flows through their
 * FixedLengthStream, which also errors on a short body: the client keeps the length, and can tell
 * a truncated response from a whole one. Elsewhere the runtime honours the header as it is.
 */
const withDeclaredLength = (body: ReadableStream<Uint8Array>, headers: Headers): ReadableStream<Uint8Array> => {
  const declared = headers.get('content-length');
  if (FixedLengthStream === undefined || declared === null || !/^\d+$/.test(declared)) return body;
  const fixed = new FixedLengthStream(Number(declared));
  body.pipeThrough(fixed);
  return runtimeReadable(fixed);
};
