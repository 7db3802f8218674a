import { GatewayError, json } from '@apigate/errors';
import { describe, expect, it } from '@jest/globals';
import { asForward, asRespond, run } from './test-utils/index.ts';
import { createGateway, get, head, service, type Middleware, type Observer } from './index.ts';
import { RecordHeaders } from './middleware.ts';

const backendUrl = 'http://127.0.0.1:9';

/** A middleware whose response phase adds a transform tagged `name`, and says whether it was taken. */
const tagging = (name: string, taken: string[], after?: (ctx: Parameters<NonNullable<Middleware['response']>>[0]) => void): Middleware => ({
  name,
  response: (ctx) => {
    const stream = Object.assign(new TransformStream<Uint8Array, Uint8Array>(), { tag: name });
    if (ctx.transform(stream)) taken.push(name);
    after?.(ctx);
  },
});

const tags = (streams: readonly object[] | undefined): unknown[] | undefined => streams?.map((stream) => (stream as { tag?: string }).tag);

describe('response body transforms', () => {
  it('collects the transforms of every level in the order the response phases run: route, service, gateway', async () => {
    const taken: string[] = [];
    const gateway = createGateway({ use: [tagging('g', taken)] })
      .mount(service({ prefix: '/s', use: [tagging('s', taken)] }, [get('/x', { use: [tagging('r', taken)] })]), [backendUrl])
      .build();
    const plan = asForward(await run(gateway, 'GET /s/x'));
    const transforms = plan.respond(200, new RecordHeaders({ 'content-length': '5' }));
    expect([taken, tags(transforms?.streams)]).toEqual([['r', 's', 'g'], ['r', 's', 'g']]);
  });

  it('returns no transforms, and leaves Content-Length alone, when no phase adds one', async () => {
    const plain: Middleware = { name: 'plain', response: (ctx) => ctx.headers.set('x-seen', '1') };
    const gateway = createGateway({ use: [plain] }).mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl]).build();
    const headers: Record<string, string | readonly string[]> = { 'content-length': '5' };
    const transforms = asForward(await run(gateway, 'GET /s/x')).respond(200, new RecordHeaders(headers));
    expect([transforms, headers]).toEqual([undefined, { 'content-length': '5', 'x-seen': '1' }]);
  });

  it("drops the upstream's Content-Length once a transform is added, so that the body goes chunked", async () => {
    const gateway = createGateway({ use: [tagging('g', [])] }).mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl]).build();
    const headers: Record<string, string | readonly string[]> = { 'content-length': '5', 'content-type': 'text/plain' };
    asForward(await run(gateway, 'GET /s/x')).respond(200, new RecordHeaders(headers));
    expect(headers).toEqual({ 'content-type': 'text/plain' });
  });

  it('keeps a Content-Length a phase sets after its transform, even the same value, and drops one set before a later transform', async () => {
    const keep = createGateway({ use: [tagging('g', [], (ctx) => ctx.headers.set('Content-Length', ctx.headers.get('content-length')!))] })
      .mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl])
      .build();
    const kept: Record<string, string | readonly string[]> = { 'content-length': '5' };
    asForward(await run(keep, 'GET /s/x')).respond(200, new RecordHeaders(kept));
    // The route's phase sets a length, then the gateway's adds a transform that changes it again.
    const later = createGateway({ use: [tagging('g', [])] })
      .mount(service({ prefix: '/s' }, [get('/x', { use: [tagging('r', [], (ctx) => ctx.headers.set('content-length', '7'))] })]), [backendUrl])
      .build();
    const dropped: Record<string, string | readonly string[]> = { 'content-length': '5' };
    asForward(await run(later, 'GET /s/x')).respond(200, new RecordHeaders(dropped));
    expect([kept, dropped]).toEqual([{ 'content-length': '5' }, {}]);
  });

  it('takes no transform for a response without a body: HEAD, 1xx, 204, 205, 304', async () => {
    const taken: string[] = [];
    const gateway = createGateway({ use: [tagging('g', taken)] }).mount(service({ prefix: '/s' }, [get('/x'), head('/h')]), [backendUrl]).build();
    const outcomes: unknown[] = [];
    for (const [request, status] of [['HEAD /s/x', 200], ['GET /s/x', 101], ['GET /s/x', 204], ['GET /s/x', 205], ['GET /s/x', 304], ['GET /s/x', 200]] as const) {
      const headers: Record<string, string | readonly string[]> = { 'content-length': '5' };
      outcomes.push([request, status, tags(asForward(await run(gateway, request)).respond(status, new RecordHeaders(headers))?.streams), headers['content-length']]);
    }
    expect(outcomes).toEqual([
      ['HEAD /s/x', 200, undefined, '5'],
      ['GET /s/x', 101, undefined, '5'],
      ['GET /s/x', 204, undefined, '5'],
      ['GET /s/x', 205, undefined, '5'],
      ['GET /s/x', 304, undefined, '5'],
      ['GET /s/x', 200, ['g'], undefined],
    ]);
    expect(taken).toEqual(['g']);
  });

  it("takes no transform on a gateway-made response: a hook's answer, an error, a rendered transport failure", async () => {
    const taken: string[] = [];
    const gateway = createGateway({ use: [tagging('g', taken)] })
      .mount(service({ prefix: '/s' }, [get('/hook', { before: () => json(200, { ok: true }) }), get('/x')]), [backendUrl])
      .build();
    const answered = asRespond(await run(gateway, 'GET /s/hook'));
    const refused = asRespond(await run(gateway, 'POST /s/x'));
    const rendered = asForward(await run(gateway, 'GET /s/x')).render(new GatewayError('upstream_timeout'));
    expect([answered.response.status, refused.response.status, rendered.status, taken]).toEqual([200, 405, 504, []]);
  });

  it("reports a failed transform as its middleware's response phase and settles with internal", async () => {
    const reported: string[] = [];
    const observer: Observer = { callbackFailed: (failure) => void reported.push(`${failure.callback} ${(failure.error as Error).message}`) };
    const gateway = createGateway({ observer, use: [tagging('outer', [])] })
      .mount(service({ prefix: '/s' }, [get('/x', { use: [tagging('inner', [])] })]), [backendUrl])
      .build();
    const transforms = asForward(await run(gateway, 'GET /s/x')).respond(200, new RecordHeaders({}))!;
    const error = transforms.failed(1, new Error('boom'));
    expect([error.code, error.status, error.details, reported]).toEqual(['internal', 500, { reason: 'a response body transform failed', middleware: 'outer' }, ['outer.response boom']]);
  });

  it('reports a phase that passes transform() something other than a stream, and goes on', async () => {
    const reported: string[] = [];
    const observer: Observer = { callbackFailed: (failure) => void reported.push(failure.callback) };
    const wrong: Middleware = { name: 'wrong', response: (ctx) => void ctx.transform({} as TransformStream) };
    const gateway = createGateway({ observer, use: [wrong] }).mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl]).build();
    const headers: Record<string, string | readonly string[]> = { 'content-length': '5' };
    const transforms = asForward(await run(gateway, 'GET /s/x')).respond(200, new RecordHeaders(headers));
    expect([transforms, headers, reported]).toEqual([undefined, { 'content-length': '5' }, ['wrong.response']]);
  });
});
