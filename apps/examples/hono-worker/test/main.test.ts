import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Echo } from '../src/echo.ts';
import { startPrinting, type Printed } from './printed.ts';

// Starts the example exactly as `pnpm start` does (its package.json script: bundle the worker, run
// it in workerd through Miniflare with UPSTREAM bound to an echo server on loopback), on a free
// port, and runs every curl command it prints.

const dir = fileURLToPath(new URL('..', import.meta.url));
const start = (JSON.parse(readFileSync(`${dir}package.json`, 'utf8')) as { scripts: { start: string } }).scripts.start;
let example: Printed;

beforeAll(async () => {
  example = await startPrinting(dir, start.split(' ').slice(1));
}, 60_000);

afterAll(() => example?.stop());

const error = (body: string): { code: string; status: number } => (JSON.parse(body) as { error: { code: string; status: number } }).error;

describe('hono-worker, driven by the curl commands it prints', () => {
  it('prints nine curl commands to loopback URLs', () => {
    expect(example.commands).toHaveLength(9);
    for (const command of example.commands) expect(command).toContain("'http://127.0.0.1:");
  });

  it("answers the app's own route from Hono in workerd", async () => {
    const { status, body } = await example.run("/'");
    expect(status).toBe(200);
    expect(JSON.parse(body)).toEqual({ app: 'a Hono route of its own, beside the gateway' });
  });

  it("lets the app's own route read its JSON body with c.req.json()", async () => {
    const { status, body } = await example.run('/feedback');
    expect(status).toBe(200);
    expect(JSON.parse(body)).toEqual({ received: { stars: 5 } });
  });

  it('runs the hook as plain Hono middleware, its scope value a c.get() variable', async () => {
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

  it('has run every printed command', () => {
    expect(example.notRun).toEqual([]);
  });
});
