import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import type { Middleware } from '@apigate/core';
import { unauthorized } from '@apigate/errors';
import { closeServer, eventually, listen, send } from './http.ts';

/**
 * One middleware with every phase, for the "a middleware as plain framework middleware" suites of
 * each adapter: its request phase refuses `x-deny` and puts a tier in scope; its response phase
 * stamps the tier and a cookie on whatever response the app writes (its own refusals too); its
 * settle phase records how each response ended.
 */
export const tierMiddleware = (settled: string[]): Middleware => ({
  name: 'tier',
  request: (ctx) => {
    if (ctx.headers.has('x-deny')) return unauthorized();
    ctx.set('tier', 'pro');
    ctx.headers.set('x-tier-seen', 'yes');
    return undefined;
  },
  response: (ctx) => {
    ctx.headers.set('x-tier', String(ctx.get('tier') ?? 'none'));
    ctx.headers.append('set-cookie', 'tier=1; Path=/');
  },
  settle: (event) => void settled.push(`${event.method} ${event.path} ${event.status ?? event.error?.code}`),
});

/** A middleware whose response phase throws: the response must still go out. */
export const brokenResponse: Middleware = {
  name: 'broken',
  response: () => {
    throw new Error('the response phase failed');
  },
};

/** One answer as a suite below compares it, whatever client the adapter's test uses. */
export interface MiddlewareReply {
  readonly status: number;
  readonly text: string;
  header(name: string): string | undefined;
  readonly cookies: readonly string[];
}

export interface MiddlewareApp {
  /** Sends GET `path` to an app with `tierMiddleware` on `/tier/*` (json renderer) and `brokenResponse` on `/broken/*`. */
  get(path: string, headers?: Record<string, string>): Promise<MiddlewareReply>;
  close(): Promise<void>;
}

/**
 * The cases every adapter's "a whole middleware as plain framework middleware" suite runs. The
 * app answers `/tier/data` with `{ tier, seen }` (the scope value and the header the request
 * phase set) and `/broken/data` with the text `still sent`.
 */
export const describeStandaloneMiddleware = (name: string, start: (settled: string[]) => Promise<MiddlewareApp>): void => {
  describe(name, () => {
    const settled: string[] = [];
    let app: MiddlewareApp;

    beforeAll(async () => {
      app = await start(settled);
    });

    afterAll(async () => {
      await app.close();
    });

    it("runs the request phase before the app's route and the response phase on the response the app wrote", async () => {
      const reply = await app.get('/tier/data');
      expect({ status: reply.status, body: JSON.parse(reply.text) as unknown, tier: reply.header('x-tier'), cookies: reply.cookies }).toEqual({
        status: 200,
        body: { tier: 'pro', seen: 'yes' },
        tier: 'pro',
        cookies: ['tier=1; Path=/'],
      });
    });

    it('passes its own refusal through its response phase, and settles each response once', async () => {
      const before = settled.length;
      const reply = await app.get('/tier/data', { 'x-deny': '1' });
      const code = (JSON.parse(reply.text) as { error: { code: string } }).error.code;
      expect({ status: reply.status, code, tier: reply.header('x-tier') }).toEqual({ status: 401, code: 'unauthorized', tier: 'none' });
      await eventually('the refusal settled', () => settled.length > before);
      expect(settled.slice(before)).toEqual(['GET /tier/data 401']);
    });

    it('still sends the response when the response phase throws', async () => {
      const warn = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        const reply = await app.get('/broken/data');
        expect([reply.status, reply.text]).toEqual([200, 'still sent']);
      } finally {
        warn.mockRestore();
      }
    });
  });
};

/** A Node server (Express or Koa app) as the suite's app, sent real HTTP on a loopback port. */
export const nodeMiddlewareApp = async (server: Server): Promise<MiddlewareApp> => {
  const port = await listen(server);
  return {
    get: async (path, headers = {}) => {
      const reply = await send(port, path, { headers });
      const cookies = reply.headers['set-cookie'] ?? [];
      return { status: reply.status, text: reply.text, header: (name) => reply.headers[name.toLowerCase()] as string | undefined, cookies };
    },
    close: () => closeServer(server),
  };
};
