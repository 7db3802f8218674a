import { GatewayError } from '@apigate/errors';
import { describe, expect, it } from '@jest/globals';
import { asForward, asRespond, run, testIO } from './test-utils/index.ts';
import { createGateway, get, service, type CallbackFailure, type Middleware, type RequestIO } from './index.ts';
import { RecordHeaders } from './middleware.ts';

const backendUrl = 'http://127.0.0.1:9';

/** A promise and the functions that settle it, for work the test finishes when it chooses. */
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

/** Records the platform's env of every phase under the phase's name. */
const envSpy = (seen: Record<string, unknown>): Middleware => ({
  name: 'env-spy',
  request: (ctx) => void (seen.request = ctx.platform.env),
  upstream: (ctx) => void (seen.upstream = ctx.platform.env),
  response: (ctx) => void (seen.response = ctx.platform.env),
  settle: (event) => void (seen.settle = event.platform.env),
});

describe('the platform in middleware contexts', () => {
  it("shows the runtime's env to the request, upstream, response and settle phases", async () => {
    const seen: Record<string, unknown> = {};
    const env = { API_KEY: 'secret' };
    const gateway = createGateway({ use: [envSpy(seen)] }).mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl]).build();
    const plan = asForward(await run(gateway, 'GET /s/x', { ...testIO(), platform: { env } }));
    plan.respond(200, new RecordHeaders({}));
    plan.settle({ status: 200 });
    expect(seen).toEqual({ request: env, upstream: env, response: env, settle: env });
    expect(seen.request).toBe(env);
  });

  it('shows an empty env where the runtime gives none, and on gateway-made answers', async () => {
    const seen: Record<string, unknown> = {};
    const gateway = createGateway({ use: [envSpy(seen)] }).mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl]).build();
    asRespond(await run(gateway, 'DELETE /s/x'));
    expect(seen).toEqual({ response: {}, settle: {} });
    const plan = asForward(await run(gateway, 'GET /s/x'));
    plan.settle({ status: 200 });
    expect(seen).toEqual({ request: {}, upstream: {}, response: {}, settle: {} });
  });

  it("hands waitUntil work to the runtime's own waitUntil, with the rejection already reported", async () => {
    const failures: CallbackFailure[] = [];
    const given: Promise<unknown>[] = [];
    const later: Middleware = { name: 'later', request: (ctx) => ctx.platform.waitUntil(Promise.reject(new Error('audit failed'))) };
    const gateway = createGateway({ use: [later], observer: { callbackFailed: (failure) => void failures.push(failure) } })
      .mount(service({ name: 's', prefix: '/s' }, [get('/x')]), [backendUrl])
      .build();
    const io: RequestIO = { ...testIO(), platform: { env: {}, waitUntil: (promise) => void given.push(promise) } };
    asForward(await run(gateway, 'GET /s/x', io));
    expect(given).toHaveLength(1);
    // The runtime gets a promise that does not reject: nothing is left for it to log as unhandled.
    await expect(given[0]).resolves.toBeUndefined();
    expect(failures.map((f) => [f.callback, (f.error as Error).message, f.route?.path])).toEqual([['platform.waitUntil', 'audit failed', '/s/x']]);
  });

  it("keeps the work itself when the runtime's waitUntil throws, and reports that", async () => {
    const failures: string[] = [];
    const work = deferred();
    let ran = false;
    const later: Middleware = { name: 'later', settle: (event) => event.platform.waitUntil(work.promise.then(() => void (ran = true))) };
    const gateway = createGateway({ use: [later], observer: { callbackFailed: (failure) => void failures.push(failure.callback) } })
      .mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl])
      .build();
    const refusing: RequestIO = { ...testIO(), platform: { waitUntil: () => { throw new Error('the request context is gone'); } } };
    asForward(await run(gateway, 'GET /s/x', refusing)).settle({ status: 200 });
    let closed = false;
    void gateway.close().then(() => void (closed = true));
    await settleQueue();
    expect([failures, closed]).toEqual([['platform.waitUntil'], false]);
    work.resolve();
    await gateway.close();
    expect(ran).toBe(true);
  });

  it('keeps waitUntil work where the runtime has none: close() waits for it, new work while draining too', async () => {
    const first = deferred();
    const second = deferred();
    const done: string[] = [];
    const later: Middleware = {
      name: 'later',
      request: (ctx) => {
        ctx.platform.waitUntil(
          first.promise.then(() => {
            done.push('first');
            // Work the first piece starts on its way out is drained as well.
            ctx.platform.waitUntil(second.promise.then(() => void done.push('second')));
          }),
        );
      },
    };
    const gateway = createGateway({ use: [later] }).mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl]).build();
    asForward(await run(gateway, 'GET /s/x'));
    let closed = false;
    const closing = gateway.close().then(() => void (closed = true));
    await settleQueue();
    expect(closed).toBe(false);
    first.resolve();
    await settleQueue();
    expect([done, closed]).toEqual([['first'], false]);
    second.resolve();
    await closing;
    expect(done).toEqual(['first', 'second']);
  });

  it('reports a rejected waitUntil where the runtime has none, and close() still resolves', async () => {
    const failures: string[] = [];
    const later: Middleware = { name: 'later', response: (ctx) => ctx.platform.waitUntil(Promise.reject(new GatewayError('internal'))) };
    const gateway = createGateway({ use: [later], observer: { callbackFailed: (failure) => void failures.push(`${failure.callback} ${failure.route?.path}`) } })
      .mount(service({ prefix: '/s' }, [get('/x')]), [backendUrl])
      .build();
    asForward(await run(gateway, 'GET /s/x')).respond(200, new RecordHeaders({}));
    await gateway.close();
    expect(failures).toEqual(['platform.waitUntil /s/x']);
  });
});
