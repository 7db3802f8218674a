import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runCurl, shellWords, startPrinting, type Printed } from '@apigate/test-utils/printed';

// Runs the demo as `pnpm start` does (node --conditions=@apigate/source src/main.ts), on a free
// port, and runs every curl command it prints with the real curl, as printed.

const demoDir = fileURLToPath(new URL('..', import.meta.url));

interface Echo {
  readonly upstream: string;
  readonly method: string;
  readonly url: string;
  readonly body?: unknown;
  readonly headers: Record<string, string>;
}

let demo: Printed | undefined;
/** The printed commands by the path (and query) of their URL, e.g. `/sales/public?page=2`. */
const commands = new Map<string, string[][]>();

/** The printed command for a path: the one with an argument containing `marker`, or the one with no options. */
const commandFor = (path: string, marker?: string): string[] => {
  const found = (commands.get(path) ?? []).find((args) =>
    marker === undefined ? !args.some((arg) => arg.startsWith('-')) : args.some((arg) => arg.includes(marker)),
  );
  if (!found) throw new Error(`the demo printed no curl command for ${path}${marker ? ` with ${marker}` : ''}:\n${demo?.lines.join('\n')}`);
  return found;
};

beforeAll(async () => {
  demo = await startPrinting(demoDir, ['--conditions=@apigate/source', 'src/main.ts'], { LOG_LEVEL: 'silent' });
  for (const command of demo.commands) {
    const args = shellWords(command).slice(1);
    const url = new URL(args.at(-1)!);
    const key = url.pathname + url.search;
    commands.set(key, [...(commands.get(key) ?? []), args]);
  }
}, 100_000);

afterAll(async () => {
  await demo?.stop();
});

describe('the demo gateway, driven by the curl commands it prints', () => {
  it('prints one curl command per demonstrated behaviour, with a loopback URL', () => {
    const printed = [...commands.values()].flat();
    expect(printed).toHaveLength(27);
    for (const args of printed) expect(new URL(args.at(-1)!).hostname).toBe('127.0.0.1');
    expect(new Set(commands.keys())).toEqual(
      new Set([
        '/',
        '/sales/ping',
        '/sales/public?page=2',
        '/sales/item/42/review',
        '/sales/orders',
        '/sales/item/..%2Fadmin/review',
        '/sales/carts/42',
        '/sales/reports',
        '/files/reports/2024/q1%20summary.pdf',
        '/files/notes/todo.txt',
        '/files/..%2F..%2Fetc/passwd',
        '/account/me',
        '/profile/me',
        '/opaque/me',
        '/partner/orders',
        '/sales/quota',
        '/sales/moved',
        '/sales/summary',
        '/tenants/whoami',
        '/sales//ping',
      ]),
    );
  });

  it("rewrites the upstream's redirect and cookie to the gateway's public path", async () => {
    const { status, body } = await runCurl(commandFor('/sales/moved', '-i'));
    expect(status).toBe(302);
    const head = body.split(/\r?\n\r?\n/)[0] ?? '';
    expect(head).toMatch(/^location: \/sales\/welcome\r?$/im);
    expect(head).toMatch(/^set-cookie: session=1; Path=\/sales\/; HttpOnly\r?$/im);
  });

  it('answers /sales/summary with the body the interceptor made from the whole upstream answer', async () => {
    const { status, body } = await runCurl(commandFor('/sales/summary'));
    expect(status).toBe(200);
    const summary = JSON.parse(body) as { summary: string; forwardedPort: string };
    expect(summary.summary).toMatch(/^sales-[ab] answered \/ping$/);
    expect(summary.forwardedPort).toMatch(/^\d+$/);
  });

  it('sends tenant b to sales-b every time and refuses a tenant the mapping lacks with 503', async () => {
    for (let i = 0; i < 3; i++) {
      const { status, body } = await runCurl(commandFor('/tenants/whoami', 'X-Tenant: b'));
      expect(status).toBe(200);
      expect((JSON.parse(body) as Echo).upstream).toBe('sales-b');
    }
    const { status, body } = await runCurl(commandFor('/tenants/whoami', 'X-Tenant: mallory'));
    expect(status).toBe(503);
    expect((JSON.parse(body) as { error: { code: string } }).error.code).toBe('no_backend_available');
  });

  it('refuses a path with an empty segment with 400 invalid_path', async () => {
    const { status, body } = await runCurl(commandFor('/sales//ping'));
    expect(status).toBe(400);
    expect((JSON.parse(body) as { error: { code: string } }).error.code).toBe('invalid_path');
  });

  it("answers the app's own route from Express, not from an upstream", async () => {
    const { status, body } = await runCurl(commandFor('/'));
    expect(status).toBe(200);
    expect(JSON.parse(body)).toEqual({ app: 'an Express route of its own, beside the gateway' });
  });

  it('passes /sales/ping through as /ping and balances two calls over both upstreams', async () => {
    const first = await runCurl(commandFor('/sales/ping'));
    const second = await runCurl(commandFor('/sales/ping'));
    expect([first.status, second.status]).toEqual([200, 200]);
    const echoes = [JSON.parse(first.body) as Echo, JSON.parse(second.body) as Echo];
    expect(echoes.map((echo) => echo.url)).toEqual(['/ping', '/ping']);
    expect(new Set(echoes.map((echo) => echo.upstream))).toEqual(new Set(['sales-a', 'sales-b']));
  });

  it('sends cart 42 to the same upstream every time (path-sticky policy)', async () => {
    const upstreams = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const { status, body } = await runCurl(commandFor('/sales/carts/42'));
      expect(status).toBe(200);
      expect((JSON.parse(body) as Echo).url).toBe('/carts/42');
      upstreams.add((JSON.parse(body) as Echo).upstream);
    }
    expect(upstreams.size).toBe(1);
  });

  it('answers /sales/reports from one of the upstreams (least-time policy)', async () => {
    const { status, body } = await runCurl(commandFor('/sales/reports'));
    expect(status).toBe(200);
    expect(['sales-a', 'sales-b']).toContain((JSON.parse(body) as Echo).upstream);
  });

  it('rewrites /sales/public to /internal and keeps the query', async () => {
    const { status, body } = await runCurl(commandFor('/sales/public?page=2'));
    expect(status).toBe(200);
    expect((JSON.parse(body) as Echo).url).toBe('/internal?page=2');
  });

  it('rewrites /sales/item/42/review to /api/v2/reviews/42', async () => {
    const { status, body } = await runCurl(commandFor('/sales/item/42/review'));
    expect(status).toBe(200);
    expect((JSON.parse(body) as Echo).url).toBe('/api/v2/reviews/42');
  });

  it('refuses /sales/orders without the key with 401 from the hook, rendered as JSON', async () => {
    const { status, body } = await runCurl(commandFor('/sales/orders'));
    expect(status).toBe(401);
    expect(JSON.parse(body)).toEqual({ error: { code: 'unauthorized', message: 'Send the demo key in X-Api-Key.', status: 401 } });
  });

  it('forwards /sales/orders with the key, without the key and with the X-Client the hook set', async () => {
    const { status, body } = await runCurl(commandFor('/sales/orders', 'X-Api-Key'));
    expect(status).toBe(200);
    const echo = JSON.parse(body) as Echo;
    expect(echo.url).toBe('/orders');
    expect(echo.headers['x-client']).toBe('demo');
    expect(echo.headers['x-api-key']).toBeUndefined();
  });

  it('forwards a valid order as the map reshaped it, with a Content-Length that matches', async () => {
    const { status, body } = await runCurl(commandFor('/sales/orders', '"qty":2'));
    expect(status).toBe(200);
    const echo = JSON.parse(body) as Echo;
    expect([echo.method, echo.url]).toEqual(['POST', '/orders']);
    expect(echo.body).toEqual({ lines: [{ sku: 'A-1', quantity: 2 }] });
    expect(echo.headers['content-type']).toBe('application/json');
    expect(echo.headers['content-length']).toBe(String(Buffer.byteLength(JSON.stringify(echo.body))));
  });

  it('refuses an invalid order with 422 validation_failed listing the issues, without an upstream answer', async () => {
    const { status, body } = await runCurl(commandFor('/sales/orders', '"qty":0'));
    expect(status).toBe(422);
    const { error } = JSON.parse(body) as { error: { code: string; issues: { in: string; path: unknown[] }[] } };
    expect(error.code).toBe('validation_failed');
    expect(error.issues.map((issue) => [issue.in, issue.path])).toEqual([
      ['json', ['sku']],
      ['json', ['qty']],
    ]);
    expect(body).not.toContain('upstream');
  });

  it('refuses an encoded slash in a template parameter with 400 invalid_path', async () => {
    const { status, body } = await runCurl(commandFor('/sales/item/..%2Fadmin/review'));
    expect(status).toBe(400);
    expect((JSON.parse(body) as { error: { code: string } }).error.code).toBe('invalid_path');
  });

  it('forwards everything under /files to /storage with the tail as sent (catch-all)', async () => {
    const { status, body } = await runCurl(commandFor('/files/reports/2024/q1%20summary.pdf'));
    expect(status).toBe(200);
    const echo = JSON.parse(body) as Echo;
    expect([echo.method, echo.url]).toEqual(['GET', '/storage/reports/2024/q1%20summary.pdf']);
  });

  it('forwards a PATCH and its body through the all() route', async () => {
    const { status, body } = await runCurl(commandFor('/files/notes/todo.txt', 'PATCH'));
    expect(status).toBe(200);
    const echo = JSON.parse(body) as Echo;
    expect([echo.method, echo.url, echo.body]).toEqual(['PATCH', '/storage/notes/todo.txt', { title: 'done' }]);
  });

  it('sends the request id upstream and returns it on the answer (gateway-level middleware)', async () => {
    const { status, body } = await runCurl(commandFor('/sales/ping', 'X-Request-Id'));
    expect(status).toBe(200);
    const [head = '', payload = ''] = body.split(/\r?\n\r?\n/);
    expect(head).toMatch(/^x-request-id: demo-1\r?$/im);
    expect((JSON.parse(payload) as Echo).headers['x-request-id']).toBe('demo-1');
  });

  it('rate-limits /sales/quota to 3 a minute, with the RateLimit headers, and refuses the 4th with 429 rate_limited', async () => {
    const replies = [];
    for (let i = 0; i < 4; i++) {
      const { status, body } = await runCurl(commandFor('/sales/quota', '-i'));
      const [head = '', payload = ''] = body.split(/\r?\n\r?\n/);
      const header = (name: string) => new RegExp(`^${name}: (.*?)\r?$`, 'im').exec(head)?.[1];
      replies.push({ status, policy: header('ratelimit-policy'), left: /;r=(\d+)/.exec(header('ratelimit') ?? '')?.[1], retryAfter: header('retry-after') !== undefined, payload });
    }
    expect(replies.map(({ status, policy, left, retryAfter }) => ({ status, policy, left, retryAfter }))).toEqual([
      { status: 200, policy: '"minute";q=3;w=60', left: '2', retryAfter: false },
      { status: 200, policy: '"minute";q=3;w=60', left: '1', retryAfter: false },
      { status: 200, policy: '"minute";q=3;w=60', left: '0', retryAfter: false },
      { status: 429, policy: '"minute";q=3;w=60', left: '0', retryAfter: true },
    ]);
    expect((JSON.parse(replies[3]!.payload) as { error: { code: string } }).error.code).toBe('rate_limited');
  });

  it('refuses a traversal attempt through the tail with 400 invalid_path', async () => {
    const { status, body } = await runCurl(commandFor('/files/..%2F..%2Fetc/passwd'));
    expect(status).toBe(400);
    expect((JSON.parse(body) as { error: { code: string } }).error.code).toBe('invalid_path');
  });

  it('refuses /account/me without a token: 401 with a Bearer challenge (jwt() on the service)', async () => {
    const { status, body } = await runCurl(commandFor('/account/me', '-i'));
    expect(status).toBe(401);
    const [head = '', payload = ''] = body.split(/\r?\n\r?\n/);
    expect(head).toMatch(/^www-authenticate: Bearer realm="api"\r?$/im);
    expect((JSON.parse(payload) as { error: { code: string } }).error.code).toBe('unauthorized');
  });

  it('refuses /partner/orders without a key: 401 unauthorized with an ApiKey challenge (apiKey() on the service)', async () => {
    const { status, body } = await runCurl(commandFor('/partner/orders', '-i'));
    expect(status).toBe(401);
    const [head = '', payload = ''] = body.split(/\r?\n\r?\n/);
    expect(head).toMatch(/^www-authenticate: ApiKey realm="api", header="x-api-key"\r?$/im);
    expect((JSON.parse(payload) as { error: { code: string } }).error.code).toBe('unauthorized');
  });

  it('forwards /partner/orders with the printed key: the consumer goes upstream, the key does not, and its tier picks the rate limit', async () => {
    const { status, body } = await runCurl(commandFor('/partner/orders', 'X-Api-Key'));
    expect(status).toBe(200);
    const [head = '', payload = ''] = body.split(/\r?\n\r?\n/);
    const echo = JSON.parse(payload) as Echo;
    expect([echo.url, echo.headers['x-consumer-id'], echo.headers['x-consumer-tier'], echo.headers['x-api-key']]).toEqual(['/orders', 'demo-partner', 'pro', undefined]);
    expect(head).toMatch(/^ratelimit-policy: "pro";q=100;w=60\r?$/im);
  });

  it('forwards /account/me with the printed token: the upstream gets X-User-Id from the token, not the token', async () => {
    const { status, body } = await runCurl(commandFor('/account/me', 'Authorization'));
    expect(status).toBe(200);
    const echo = JSON.parse(body) as Echo;
    expect([echo.url, echo.headers['x-user-id'], echo.headers.authorization]).toEqual(['/me', 'demo-user', undefined]);
  });

  it('forwards /profile/me with the printed RS256 token, verified against the IdP key set', async () => {
    const { status, body } = await runCurl(commandFor('/profile/me', 'Authorization'));
    expect(status).toBe(200);
    const echo = JSON.parse(body) as Echo;
    expect([echo.url, echo.headers['x-user-id'], echo.headers.authorization]).toEqual(['/me', 'rs-user', undefined]);
  });

  it('forwards /opaque/me with the printed opaque token, checked by introspection', async () => {
    const { status, body } = await runCurl(commandFor('/opaque/me', 'Authorization'));
    expect(status).toBe(200);
    const echo = JSON.parse(body) as Echo;
    expect([echo.url, echo.headers['x-user-id'], echo.headers['x-client-id'], echo.headers.authorization]).toEqual(['/me', 'opaque-user', 'demo-spa', undefined]);
  });
});
