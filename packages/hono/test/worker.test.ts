import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createGateway, get, service, type Gateway, type Middleware } from '@apigate/core';
import { Hono, type ExecutionContext } from 'hono';
import { workerGateway } from '../src/index.ts';
import { startUpstream, type Echo, type Upstream } from './helpers.ts';

// workerGateway as a module Worker uses it, called the way workerd calls a Worker's fetch:
// (request, env, ctx). The gateway forwards to a real upstream on loopback; the bundle in workerd
// runs in apps/examples/hono-worker's tests.

type Bindings = { readonly UPSTREAM: string; readonly API_KEY: string };

let upstream: Upstream;

beforeAll(async () => {
  upstream = await startUpstream();
});

afterAll(async () => {
  await upstream.close();
});

/** An execution context as workerd hands one to a Worker: waitUntil work is collected. */
const executionContext = (kept: Promise<unknown>[]): ExecutionContext => ({
  waitUntil: (promise) => void kept.push(promise),
  passThroughOnException: () => undefined,
  props: {},
});

/** Reads the env's key and hands a promise to waitUntil, both visible upstream and to the test. */
const platformProbe = (ran: string[]): Middleware<{ bindings: Bindings }> => ({
  name: 'platform-probe',
  request: (ctx) => {
    ctx.headers.set('x-api-key-seen', ctx.platform.env.API_KEY);
    ctx.platform.waitUntil(Promise.resolve().then(() => void ran.push(ctx.path)));
  },
});

const api = (ran: string[]) => service({ name: 'api', prefix: '/api' }, [get('/hello', { use: [platformProbe(ran)] })]);

const env = (): Bindings => ({ UPSTREAM: upstream.origin, API_KEY: 'k-1' });

describe('workerGateway', () => {
  it('builds once, from the first request of concurrent ones, with that env, and serves them all', async () => {
    const builds: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const gw = workerGateway(async (e: Bindings) => {
      builds.push(e.UPSTREAM);
      await held;
      return createGateway().mount(api([]), [e.UPSTREAM]).build();
    });
    const kept: Promise<unknown>[] = [];
    const replies = Array.from({ length: 5 }, () => gw.fetch(new Request('https://w.example/api/hello'), env(), executionContext(kept)));
    // Every request is waiting for the one build; the first request's context keeps it alive.
    await Promise.resolve();
    expect(builds).toEqual([upstream.origin]);
    expect(kept.length).toBe(1);
    release();
    const seen = await Promise.all(replies.map(async (reply) => ((await (await reply).json()) as Echo).headers['x-api-key-seen']));
    expect(seen).toEqual(['k-1', 'k-1', 'k-1', 'k-1', 'k-1']);
    // A later request with another env (which workerd never gives one isolate) does not rebuild;
    // its middleware see that request's env.
    const later = await gw.fetch(new Request('https://w.example/api/hello'), { UPSTREAM: 'http://127.0.0.1:1', API_KEY: 'other' }, executionContext(kept));
    expect([later.status, ((await later.json()) as Echo).headers['x-api-key-seen'], builds]).toEqual([200, 'other', [upstream.origin]]);
  });

  it("shows middleware the Worker's env and the request's waitUntil, as Hono middleware beside the app's own routes", async () => {
    const ran: string[] = [];
    const gw = workerGateway((e: Bindings) => createGateway().mount(api(ran), [e.UPSTREAM]).build());
    const app = new Hono<{ Bindings: Bindings }>();
    app.use(gw.middleware);
    app.get('/own', (c) => c.text(`own ${c.env.API_KEY}`));
    const kept: Promise<unknown>[] = [];
    const reply = await app.fetch(new Request('https://w.example/api/hello'), env(), executionContext(kept));
    const seen = (await reply.json()) as Echo;
    const own = await app.fetch(new Request('https://w.example/own'), env(), executionContext(kept));
    await Promise.all(kept);
    expect([reply.status, seen.url, seen.headers['x-api-key-seen'], await own.text(), ran]).toEqual([200, '/hello', 'k-1', 'own k-1', ['/api/hello']]);
  });

  it("answers a path that is no gateway route with 404 not_found in the gateway's renderer, from its fetch", async () => {
    const gw = workerGateway((e: Bindings) => createGateway({ renderer: 'json' }).mount(api([]), [e.UPSTREAM]).build());
    const reply = await gw.fetch(new Request('https://w.example/elsewhere'), env(), executionContext([]));
    expect([reply.status, ((await reply.json()) as { error: { code: string } }).error.code]).toEqual([404, 'not_found']);
  });

  it('answers 500 internal, in the given renderer, while the build throws, and builds again on the next request', async () => {
    let fail = true;
    const gw = workerGateway(
      (e: Bindings): Gateway => {
        if (fail) return createGateway().mount(service({ name: 'bad', prefix: 'no-slash' }, [get('/x')]), [e.UPSTREAM]).build();
        return createGateway().mount(api([]), [e.UPSTREAM]).build();
      },
      { renderer: 'json' },
    );
    const logged: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void logged.push(args[0]);
    let first: Response;
    try {
      first = await gw.fetch(new Request('https://w.example/api/hello'), env(), executionContext([]));
    } finally {
      console.error = original;
    }
    expect([first.status, ((await first.json()) as { error: { code: string } }).error.code, logged]).toEqual([500, 'internal', ['apigate: the gateway could not be built']]);
    fail = false;
    const second = await gw.fetch(new Request('https://w.example/api/hello'), env(), executionContext([]));
    expect(second.status).toBe(200);
    await second.arrayBuffer();
  });
});
