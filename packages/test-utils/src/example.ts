import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startPrinting, type Printed } from './printed.ts';

/** What an example's echo upstream answers. */
interface Echo {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

export interface ExampleSuite {
  /** The example's folder name, e.g. `express-basic`. */
  readonly name: string;
  /** The example's folder (with a trailing slash). */
  readonly dir: string;
  /** How many curl commands it prints. */
  readonly commands: number;
  /** The framework, as the own-route test names it (`Express`, `Hono in workerd`, ...). */
  readonly framework: string;
  /** What the app's own `/` route answers in its `app` member. */
  readonly ownRoute: string;
  /** Where the plain-middleware hook keeps its scope value, for the test name. */
  readonly scopeIn: string;
  /** Whether it prints the 502 of a down upstream (`/legacy/report`). */
  readonly downUpstream: boolean;
  /** Whether it prints a method Node's parser refuses (`-X FOO`, renderClientErrors). */
  readonly clientErrors: boolean;
  /** Whether its own routes include `/feedback`, which reads a JSON body with c.req.json(). */
  readonly readsJson: boolean;
  /** How long the start may take; 90 s by default (a busy machine). */
  readonly startTimeoutMs?: number;
  /** The example's own cases for the commands only it prints, run before the every-command check. */
  readonly more?: (example: () => Printed) => void;
}

const error = (body: string): { code: string; status: number } => (JSON.parse(body) as { error: { code: string; status: number } }).error;

/**
 * The examples' shared suite: starts the example exactly as `pnpm start` does (its package.json
 * script), on a free port, runs every curl command it prints, and checks each one's answer.
 */
export const describeExample = (suite: ExampleSuite): void => {
  const start = (JSON.parse(readFileSync(`${suite.dir}package.json`, 'utf8')) as { scripts: { start: string } }).scripts.start;
  let example: Printed;
  const startTimeout = suite.startTimeoutMs ?? 90_000;

  beforeAll(async () => {
    example = await startPrinting(suite.dir, start.split(' ').slice(1), {}, startTimeout);
    // jest's own bound comes after the start's, so that a slow start reports what it printed.
  }, startTimeout + 10_000);

  afterAll(() => example?.stop());

  describe(`${suite.name}, driven by the curl commands it prints`, () => {
    it(`prints ${suite.commands} curl commands to loopback URLs`, () => {
      expect(example.commands).toHaveLength(suite.commands);
      for (const command of example.commands) expect(command).toContain("'http://127.0.0.1:");
    });

    it(`answers the app's own route from ${suite.framework}`, async () => {
      const { status, body } = await example.run("/'");
      expect(status).toBe(200);
      expect(JSON.parse(body)).toEqual({ app: suite.ownRoute });
    });

    if (suite.readsJson) {
      it("lets the app's own route read its JSON body with c.req.json()", async () => {
        const { status, body } = await example.run('/feedback');
        expect(status).toBe(200);
        expect(JSON.parse(body)).toEqual({ received: { stars: 5 } });
      });
    }

    it(`runs the hook as plain middleware, its scope value in ${suite.scopeIn}`, async () => {
      const { status, body } = await example.run('/whoami');
      expect(status).toBe(200);
      expect(JSON.parse(body)).toEqual({ requestId: 'abc' });
    });

    it('passes /api/hello through as /hello, the query kept', async () => {
      const { status, body } = await example.run('/api/hello?lang=en');
      expect(status).toBe(200);
      expect((JSON.parse(body) as Echo).url).toBe('/hello?lang=en');
    });

    it('rewrites /api/users/42 to /v1/users/42', async () => {
      const { status, body } = await example.run('/api/users/42');
      expect(status).toBe(200);
      expect((JSON.parse(body) as Echo).url).toBe('/v1/users/42');
    });

    it('streams a POST body upstream unchanged', async () => {
      const { status, body } = await example.run('/api/notes');
      expect(status).toBe(200);
      const echo = JSON.parse(body) as Echo;
      expect([echo.method, echo.url, echo.body]).toEqual(['POST', '/notes', '{"text":"hi"}']);
      expect(echo.headers['content-length']).toBe('13');
    });

    it('runs the route hook, which sends an X-Request-Id upstream', async () => {
      const { status, body } = await example.run('/api/traced');
      expect(status).toBe(200);
      expect((JSON.parse(body) as Echo).headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('answers a method the path does not declare with 405 method_not_allowed', async () => {
      const { status, body } = await example.run('-X DELETE');
      expect(status).toBe(405);
      expect(error(body)).toMatchObject({ code: 'method_not_allowed', status: 405 });
    });

    it('refuses an encoded slash in a template parameter with 400 invalid_path', async () => {
      const { status, body } = await example.run('..%2Fadmin');
      expect(status).toBe(400);
      expect(error(body).code).toBe('invalid_path');
    });

    if (suite.downUpstream) {
      it('renders an upstream that refuses the connection as 502 upstream_unreachable', async () => {
        const { status, body } = await example.run('/legacy/report');
        expect(status).toBe(502);
        expect(error(body).code).toBe('upstream_unreachable');
      });
    }

    if (suite.clientErrors) {
      it("renders a method Node's parser refuses as 501 not_implemented (renderClientErrors)", async () => {
        const { status, body } = await example.run('-X FOO');
        expect(status).toBe(501);
        expect(error(body).code).toBe('not_implemented');
      });
    }

    suite.more?.(() => example);

    it('has run every printed command', () => {
      expect(example.notRun).toEqual([]);
    });
  });
};
