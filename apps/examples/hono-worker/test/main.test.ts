import { fileURLToPath } from 'node:url';
import { expect, it } from '@jest/globals';
import { describeExample } from '@apigate/test-utils/example';
import type { AuthEcho } from '../src/auth-worker.ts';

// Starts the example exactly as `pnpm start` does (its package.json script: bundle both Workers,
// run them in workerd through Miniflare with UPSTREAM bound to an echo server on loopback and
// AUTH_SERVICE to the auth Worker), on a free port, and runs every curl command it prints.
describeExample({
  name: 'hono-worker',
  dir: fileURLToPath(new URL('..', import.meta.url)),
  commands: 11,
  framework: 'Hono in workerd',
  ownRoute: 'a Hono route of its own, beside the gateway',
  scopeIn: 'a c.get() variable',
  downUpstream: false,
  clientErrors: false,
  readsJson: true,
  startTimeoutMs: 120_000,
  more: (example) => {
    it('reaches the auth Worker through its service binding, at the public origin with the upstream path', async () => {
      const { status, body } = await example().run('/auth/session');
      const echo = JSON.parse(body) as AuthEcho;
      expect([status, echo.worker, new URL(echo.url).pathname, echo.headers['x-forwarded-proto'], echo.cf]).toEqual([200, 'auth', '/session', 'http', null]);
    });

    it("hands the route's cf cache options to the binding's fetch, where the auth Worker reads them as request.cf", async () => {
      const { status, body } = await example().run('/auth/profiles/7');
      const echo = JSON.parse(body) as AuthEcho;
      expect([status, new URL(echo.url).pathname, echo.cf]).toEqual([200, '/v1/profiles/7', { cacheTtl: 60, cacheEverything: true }]);
    });
  },
});
