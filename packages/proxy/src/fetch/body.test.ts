import { describe, expect, it } from '@jest/globals';
import { isGatewayError } from '@apigate/errors';
import { WebBodySource } from './body.ts';

/** A request body stream that counts what was pulled from it and whether it was cancelled. */
const countedStream = (chunks: readonly Uint8Array[]) => {
  const state = { pulled: 0, cancelled: false };
  let index = 0;
  const stream = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const chunk = chunks[index++];
        if (chunk === undefined) {
          controller.close();
          return;
        }
        state.pulled += chunk.byteLength;
        controller.enqueue(chunk);
      },
      cancel() {
        state.cancelled = true;
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, state };
};

const post = (body: BodyInit | null, headers: Record<string, string> = {}): Request =>
  new Request('http://gateway.test/x', { method: 'POST', body, headers, duplex: 'half' } as RequestInit);

const rejection = async (promise: Promise<unknown>): Promise<{ code: string; details: unknown }> => {
  try {
    await promise;
  } catch (error) {
    if (isGatewayError(error)) return { code: error.code, details: error.details };
    throw error;
  }
  throw new Error('expected a rejection');
};

describe('WebBodySource', () => {
  it('reads a body under the limit, once, and keeps the bytes', async () => {
    const source = new WebBodySource(post('{"a":1}', { 'content-type': 'application/json', 'content-length': '7' }), undefined);
    expect(source.contentType).toBe('application/json');
    expect(source.contentLength).toBe(7);
    expect(source.parsed).toBeUndefined();
    const first = source.read(1024);
    expect(source.read(1024)).toBe(first);
    expect(new TextDecoder().decode(await first)).toBe('{"a":1}');
    expect(source.bytes).toBe(await first);
    expect(source.cut).toBe(false);
  });

  it('reads a body of exactly the limit', async () => {
    const { stream } = countedStream([new Uint8Array(10), new Uint8Array(6)]);
    expect((await new WebBodySource(post(stream), undefined).read(16)).byteLength).toBe(16);
  });

  it('refuses a declared Content-Length over the limit before reading a byte', async () => {
    const { stream, state } = countedStream([new Uint8Array(2048)]);
    const source = new WebBodySource(post(stream, { 'content-length': '2048' }), undefined);
    expect(await rejection(source.read(1024))).toEqual({ code: 'payload_too_large', details: { limit: 1024, declared: 2048 } });
    expect(state.pulled).toBe(0);
    expect(source.cut).toBe(true);
    expect(source.bytes).toBeUndefined();
  });

  it('cuts a streamed body at the limit and cancels the rest of the stream', async () => {
    const chunk = new Uint8Array(400);
    const { stream, state } = countedStream([chunk, chunk, chunk, chunk, chunk, chunk]);
    const source = new WebBodySource(post(stream), undefined);
    expect(source.contentLength).toBeUndefined();
    expect(await rejection(source.read(1000))).toEqual({ code: 'payload_too_large', details: { limit: 1000, received: 1200 } });
    expect(state.pulled).toBe(1200);
    expect(state.cancelled).toBe(true);
    expect(source.cut).toBe(true);
  });

  it('turns a failing request stream into client_closed', async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new Uint8Array(3));
        controller.error(new Error('socket hang up'));
      },
    });
    expect((await rejection(new WebBodySource(post(stream), undefined).read(1000))).code).toBe('client_closed');
  });

  it('reads no body as empty', async () => {
    const source = new WebBodySource(new Request('http://gateway.test/x', { method: 'POST' }), undefined);
    expect((await source.read(10)).byteLength).toBe(0);
  });

  it('hands over what the host parsed once the body was used, and nothing before', async () => {
    const request = post('{"a":1}', { 'content-type': 'application/json' });
    const source = new WebBodySource(request, { value: { a: 1 } });
    expect(source.parsed).toBeUndefined();
    await request.json();
    expect(source.parsed).toEqual({ value: { a: 1 } });
    expect((await source.read(10)).byteLength).toBe(0);
    const unknown = post('x');
    await unknown.text();
    expect(new WebBodySource(unknown, undefined).parsed).toEqual({ value: undefined });
  });
});
