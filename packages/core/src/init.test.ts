import { describe, expect, it } from '@jest/globals';
import { asForward, asRespond, bodyText, run, testIO } from './test-utils/index.ts';
import { createGateway, get, service, type CallbackFailure, type Middleware } from './index.ts';

const backendUrl = 'http://127.0.0.1:9';

const deferred = () => {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  return { promise, resolve, reject };
};

/** Lets every queued promise reaction and I/O callback run: what is still pending then waits on something. */
const settleQueue = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Resolves to whether `promise` settled by the time the queue ran dry. */
const settledYet = async (promise: Promise<unknown>): Promise<boolean> => {
  let settled = false;
  promise.then(
    () => void (settled = true),
    () => void (settled = true),
  );
  await settleQueue();
  return settled;
};

describe('middleware init', () => {
  it('runs each init once at build(), with the state, even for a middleware attached at every level', async () => {
    const calls: unknown[] = [];
    const owner: Middleware = { name: 'owner', init: (ctx) => void calls.push(ctx.state) };
    const gateway = createGateway({ state: { db: 'pg' }, use: [owner] })
      .mount(service({ prefix: '/s', use: [owner] }, [get('/x', { use: [owner] }), get('/y', { use: [owner] })]), [backendUrl])
      .build();
    expect(calls).toEqual([{ db: 'pg' }]);
    await gateway.ready();
    expect(calls).toHaveLength(1);
  });

  it('starts no init when build() refuses the definition', () => {
    let started = false;
    const owner: Middleware = { name: 'owner', init: () => void (started = true) };
    expect(() => createGateway({ use: [owner], defaultPolicy: 'nope' }).mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl]).build()).toThrow();
    expect(started).toBe(false);
  });

  it('resolves ready() only when every async init finished', async () => {
    const a = deferred();
    const b = deferred();
    const gateway = createGateway({ use: [{ name: 'a', init: () => a.promise }] })
      .mount(service({ prefix: '/s', use: [{ name: 'b', init: () => b.promise }] }, [get('/x')]), [backendUrl])
      .build();
    const ready = gateway.ready();
    a.resolve();
    expect(await settledYet(ready)).toBe(false);
    b.resolve();
    await expect(ready).resolves.toBeUndefined();
  });

  it('holds a request that reaches a middleware whose init is running until it finished, and only such requests', async () => {
    const init = deferred();
    const slow: Middleware = { name: 'slow', init: () => init.promise, response: () => undefined };
    const gateway = createGateway().mount(service({ prefix: '/s' }, [get('/slow', { use: [slow] }), get('/plain')]), [backendUrl]).build();
    const plain = gateway.handle(gateway.match('GET', '/s/plain')!, testIO());
    expect(plain instanceof Promise).toBe(false);
    const held = run(gateway, 'GET /s/slow');
    expect(await settledYet(held)).toBe(false);
    init.resolve();
    const plan = asForward(await held);
    expect(plan.uri).toBe('/slow');
    // Done: the route is back on the synchronous path.
    expect(gateway.handle(gateway.match('GET', '/s/slow')!, testIO()) instanceof Promise).toBe(false);
  });

  it('holds a gateway answer (405) while a gateway-level init is running', async () => {
    const init = deferred();
    const gateway = createGateway({ use: [{ name: 'slow', init: () => init.promise }] }).mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl]).build();
    const held = run(gateway, 'DELETE /s/x');
    expect(await settledYet(held)).toBe(false);
    init.resolve();
    expect(asRespond(await held).response.status).toBe(405);
  });

  it('answers 503 middleware_unavailable through a middleware whose init failed, reports it once, and rejects ready()', async () => {
    const failures: CallbackFailure[] = [];
    const onion: string[] = [];
    const outer: Middleware = { name: 'outer', response: (ctx) => void onion.push(`outer ${ctx.status}`), settle: (e) => void onion.push(`outer settle ${e.error?.code}`) };
    const broken: Middleware = {
      name: 'jwks',
      init: () => Promise.reject(new Error('key server down')),
      request: () => void onion.push('jwks request'),
      response: () => void onion.push('jwks response'),
    };
    const gateway = createGateway({ renderer: 'json', use: [outer], observer: { callbackFailed: (failure) => void failures.push(failure) } })
      .mount(service({ prefix: '/s' }, [get('/secure', { use: [broken] }), get('/open')]), [backendUrl])
      .build();
    const ready = await gateway.ready().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(ready).toBeInstanceOf(AggregateError);
    expect((ready as AggregateError).message).toMatch(/"jwks"/);
    expect(((ready as AggregateError).errors[0] as Error).message).toBe('key server down');
    const plan = asRespond(await run(gateway, 'GET /s/secure'));
    expect([plan.response.status, JSON.parse(bodyText(plan.response)).error.code, plan.error?.code, plan.error?.details]).toEqual([
      503,
      'middleware_unavailable',
      'middleware_unavailable',
      { middleware: 'jwks' },
    ]);
    // The failed middleware runs no phase; the ones outside it see the answer, as for a refusal.
    expect(onion).toEqual(['outer 503', 'outer settle middleware_unavailable']);
    asForward(await run(gateway, 'GET /s/open'));
    expect(failures.map((f) => [f.callback, (f.error as Error).message])).toEqual([['jwks.init', 'key server down']]);
  });

  it('treats an init that throws synchronously as failed', async () => {
    const gateway = createGateway({ use: [{ name: 'sync', init: () => { throw new Error('no config'); } }], observer: { callbackFailed: () => undefined } })
      .mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl])
      .build();
    await expect(gateway.ready()).rejects.toThrow(/"sync"/);
    expect(asRespond(await run(gateway, 'GET /s/x')).response.status).toBe(503);
  });

  it('keeps routes of a synchronous init on the synchronous path', () => {
    const gateway = createGateway({ use: [{ name: 'sync', init: () => undefined, response: () => undefined }] }).mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl]).build();
    expect(gateway.handle(gateway.match('GET', '/s/x')!, testIO()) instanceof Promise).toBe(false);
  });

  it('reports what an init hands to report() as <name>.background', async () => {
    const failures: string[] = [];
    let report: ((error: unknown) => void) | undefined;
    const refresher: Middleware = { name: 'jwks', init: (ctx) => void (report = ctx.report) };
    createGateway({ use: [refresher], observer: { callbackFailed: (failure) => void failures.push(failure.callback) } })
      .mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl])
      .build();
    report!(new Error('refresh failed'));
    expect(failures).toEqual(['jwks.background']);
  });

  it('closes after a running init finished, and closes a middleware whose init failed too', async () => {
    const init = deferred();
    const log: string[] = [];
    const slow: Middleware = { name: 'slow', init: () => init.promise.then(() => void log.push('slow init')), close: () => void log.push('slow close') };
    const failed: Middleware = { name: 'failed', init: () => Promise.reject(new Error('nope')), close: () => void log.push('failed close') };
    const gateway = createGateway({ use: [slow, failed], observer: { callbackFailed: () => undefined } }).mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl]).build();
    const closing = gateway.close();
    expect(await settledYet(closing)).toBe(false);
    expect(log).toEqual([]);
    init.resolve();
    await closing;
    expect(log).toEqual(['slow init', 'slow close', 'failed close']);
  });
});
