import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createGateway, get, service, type Middleware } from '@apigate/core';
import express, { type RequestHandler } from 'express';
import { expressMiddleware } from '../src/index.ts';
import { closeServer, echo, eventually, listen, send, startGateway, startUpstream, type Upstream } from './helpers.ts';
import { createServer } from 'node:http';

const deferred = () => {
  let resolve!: () => void;
  const promise = new Promise<void>((yes) => (resolve = yes));
  return { promise, resolve };
};

/** Whether `promise` settled once every queued callback ran: false means it waits on something. */
const settledYet = async (promise: Promise<unknown>): Promise<boolean> => {
  let settled = false;
  promise.then(
    () => void (settled = true),
    () => void (settled = true),
  );
  await new Promise((resolve) => setImmediate(resolve));
  return settled;
};

describe('the platform on Node (expressGateway)', () => {
  let upstream: Upstream;

  beforeAll(async () => {
    upstream = await startUpstream(echo);
  });

  afterAll(async () => {
    await upstream.close();
  });

  /** Sends the env's keys and API_KEY upstream. */
  const envProbe: Middleware = {
    name: 'env-probe',
    request: (ctx) => {
      ctx.headers.set('x-env-keys', Object.keys(ctx.platform.env).join(',') || 'none');
      ctx.headers.set('x-api-key', String(ctx.platform.env.API_KEY ?? 'none'));
    },
  };
  const probeService = service({ name: 'probe', prefix: '/probe' }, [get('/env', { to: '/env', use: [envProbe] })]);

  it("shows middleware the adapter's env option, and an empty env without one (never process.env)", async () => {
    const withEnv = await startGateway(createGateway().mount(probeService, [upstream.origin]).build(), { env: { API_KEY: 'from-options' } });
    const without = await startGateway(createGateway().mount(probeService, [upstream.origin]).build());
    try {
      const given = (await send(withEnv.port, '/probe/env')).json<{ headers: Record<string, string> }>().headers;
      const none = (await send(without.port, '/probe/env')).json<{ headers: Record<string, string> }>().headers;
      expect([given['x-env-keys'], given['x-api-key'], none['x-env-keys'], none['x-api-key']]).toEqual(['API_KEY', 'from-options', 'none', 'none']);
    } finally {
      await withEnv.close();
      await without.close();
    }
  });

  it('runs waitUntil work after the response, and gateway.close() waits for it to end', async () => {
    const go = deferred();
    const audit: Middleware = {
      name: 'audit',
      request: (ctx) => {
        ctx.platform.waitUntil(
          (async () => {
            await go.promise;
            await (await fetch(`${upstream.origin}/audit?after=response`)).text();
          })(),
        );
      },
    };
    const gateway = createGateway().mount(service({ prefix: '/sales' }, [get('/ping', { use: [audit] })]), [upstream.origin]).build();
    const app = await startGateway(gateway);
    try {
      expect((await send(app.port, '/sales/ping')).status).toBe(200);
      const closing = gateway.close();
      expect(await settledYet(closing)).toBe(false);
      expect(upstream.seen.some((seen) => seen.url === '/audit?after=response')).toBe(false);
      go.resolve();
      await closing;
      // close() resolved only once the background call was answered.
      expect(upstream.seen.filter((seen) => seen.url === '/audit?after=response')).toHaveLength(1);
    } finally {
      await app.close();
    }
  });

  it('reports waitUntil work that rejects and goes on serving', async () => {
    const reported: string[] = [];
    const failing: Middleware = { name: 'failing', request: (ctx) => ctx.platform.waitUntil(Promise.reject(new Error('the audit log is down'))) };
    const gateway = createGateway({ observer: { callbackFailed: (failure) => void reported.push(`${failure.callback}: ${(failure.error as Error).message}`) } })
      .mount(service({ prefix: '/sales' }, [get('/ping', { use: [failing] })]), [upstream.origin])
      .build();
    const app = await startGateway(gateway);
    try {
      expect((await send(app.port, '/sales/ping')).status).toBe(200);
      await eventually('the rejection was reported', () => reported.length > 0);
      expect((await send(app.port, '/sales/ping')).status).toBe(200);
      await gateway.close();
      expect(reported).toEqual(['platform.waitUntil: the audit log is down', 'platform.waitUntil: the audit log is down']);
    } finally {
      await app.close();
    }
  });
});

describe('middleware init on Node (expressGateway)', () => {
  let upstream: Upstream;

  beforeAll(async () => {
    upstream = await startUpstream(echo);
  });

  afterAll(async () => {
    await upstream.close();
  });

  it('holds a request that reaches a middleware whose init runs, serves other routes meanwhile, and resolves ready() after', async () => {
    const init = deferred();
    const arrived = deferred();
    const keys: Middleware = { name: 'keys', init: () => init.promise, request: (ctx) => void ctx.headers.set('x-keys', 'loaded') };
    const gateway = createGateway()
      .mount(service({ prefix: '/sales' }, [get('/secure', { use: [keys] }), get('/ping')]), [upstream.origin])
      .build();
    const noteArrival: RequestHandler = (req, _res, next) => {
      if (req.url === '/sales/secure') arrived.resolve();
      next();
    };
    const app = await startGateway(gateway, { before: [noteArrival] });
    try {
      const held = send(app.port, '/sales/secure');
      await arrived.promise;
      // A request on a route without that middleware goes through the same app and gateway meanwhile.
      expect((await send(app.port, '/sales/ping')).status).toBe(200);
      expect([await settledYet(held), await settledYet(gateway.ready()), upstream.seen.some((seen) => seen.url === '/secure')]).toEqual([false, false, false]);
      init.resolve();
      const reply = await held;
      expect([reply.status, reply.json<{ headers: Record<string, string> }>().headers['x-keys']]).toEqual([200, 'loaded']);
      await expect(gateway.ready()).resolves.toBeUndefined();
    } finally {
      await app.close();
    }
  });

  it('answers 503 middleware_unavailable through a middleware whose init failed, reports it, and closes it all the same', async () => {
    const reported: string[] = [];
    let closed = 0;
    const keys: Middleware = { name: 'keys', init: () => Promise.reject(new Error('key server down')), close: () => void closed++ };
    const gateway = createGateway({ renderer: 'json', observer: { callbackFailed: (failure) => void reported.push(failure.callback) } })
      .mount(service({ prefix: '/sales' }, [get('/secure', { use: [keys] }), get('/ping')]), [upstream.origin])
      .build();
    await expect(gateway.ready()).rejects.toThrow(/"keys"/);
    const app = await startGateway(gateway);
    try {
      const before = upstream.seen.length;
      const refused = await send(app.port, '/sales/secure');
      expect([refused.status, refused.json<{ error: { code: string } }>().error.code, upstream.seen.length - before]).toEqual([503, 'middleware_unavailable', 0]);
      expect((await send(app.port, '/sales/ping')).status).toBe(200);
      await gateway.close();
      expect([reported, closed]).toEqual([['keys.init'], 1]);
    } finally {
      await app.close();
    }
  });

  it('leaves nothing of its own that keeps the process alive: a gateway process exits without close()', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/lifecycle-process.ts', import.meta.url));
    const env = { ...process.env };
    delete env.NODE_OPTIONS;
    const child = fork(fixture, [upstream.origin], { execPath: process.execPath, execArgv: ['--conditions=@apigate/source', '--no-warnings'], env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const messages: unknown[] = [];
    child.on('message', (message) => messages.push(message));
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    let timer: NodeJS.Timeout | undefined;
    // Generous: the child compiles the sources it imports; a process kept alive never exits at all.
    const bound = new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), 60_000)));
    const outcome = await Promise.race([exited, bound]);
    clearTimeout(timer);
    if (outcome === 'still running') child.kill();
    expect({ outcome, messages }).toEqual({
      outcome: [0, null],
      messages: [{ status: 200, ready: true, reported: ['platform.waitUntil'] }],
    });
    // The waitUntil work ran to its end before the process went away.
    expect(upstream.seen.filter((seen) => seen.url === '/audit?from=child')).toHaveLength(1);
  });
});

describe('the platform in expressMiddleware', () => {
  it("shows the middleware the env option and keeps its waitUntil work", async () => {
    const done = deferred();
    const probe: Middleware = {
      name: 'probe',
      request: (ctx) => {
        ctx.set('region', String(ctx.platform.env.REGION));
        ctx.platform.waitUntil(Promise.resolve().then(() => done.resolve()));
      },
    };
    const app = express();
    app.use(expressMiddleware(probe, { env: { REGION: 'eu' } }));
    app.get('/data', (_req, res) => void res.json({ region: res.locals.region as unknown }));
    const server = createServer(app);
    const port = await listen(server);
    try {
      expect((await send(port, '/data')).json()).toEqual({ region: 'eu' });
      await done.promise;
    } finally {
      await closeServer(server);
    }
  });
});
