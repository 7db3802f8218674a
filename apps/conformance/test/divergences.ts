import { isDeepStrictEqual } from 'node:util';
import { expect } from '@jest/globals';
import type { AdapterName } from './adapters.ts';

/**
 * The known, explained differences between adapters. A case listed here for an adapter is
 * asserted to still differ, exactly as described: when the divergence disappears, the test fails
 * and says to remove the entry (and its README row). Keep README.md's table in step.
 */
export interface Divergence {
  /** The case's name, as passed to `conform()`. */
  readonly case: string;
  readonly adapter: AdapterName;
  /** The fields of the observation that differ from the common expectation, with their value here. */
  readonly observed: Readonly<Record<string, unknown>>;
  readonly why: string;
}

const appAnswered = { status: 404, gateway: false, code: undefined, contentType: undefined, bodyStatus: undefined };
const appAnsweredHead = { status: 404, gateway: false, contentType: undefined };
const echoAnswered = { status: 200, gateway: false, code: undefined, contentType: undefined, bodyStatus: undefined, upstreamRequests: 1 };
const echoAnsweredHead = { status: 200, gateway: false, contentType: undefined, upstreamRequests: 1 };

/** A path-safety case (conformance.test.ts) for GET and for HEAD. */
const bothMethods = (name: string, adapter: AdapterName, get: Divergence['observed'], head: Divergence['observed'], why: string): Divergence[] => [
  { case: `path safety: ${name}`, adapter, observed: get, why },
  { case: `path safety: ${name} (HEAD)`, adapter, observed: head, why },
];

const resolvedByWorkerd =
  'workerd hands the worker a Request whose URL went through the WHATWG URL parser, and no raw request target besides it (tested in Miniflare: no header, no property keeps it). ';

/**
 * On workerd, dot segments and backslashes are resolved before any worker code runs; what the URL
 * parser made of them is indistinguishable from a request for the resolved path.
 */
const pathSafetyOnWorkerd = (): Divergence[] => [
  ...['a `..` parameter', 'a `%2e%2e` parameter', 'a `%2E%2e` parameter'].flatMap((name) =>
    bothMethods(name, 'hono-workerd', appAnswered, appAnsweredHead, `${resolvedByWorkerd}It resolves \`/echo/files/..\` (and \`%2e%2e\` in any case) to \`/echo/\`, which is no gateway route: the app answers 404. Nothing reaches an upstream.`),
  ),
  ...['a `.` parameter', 'a `%2e` parameter'].flatMap((name) =>
    bothMethods(name, 'hono-workerd', appAnswered, appAnsweredHead, `${resolvedByWorkerd}It resolves \`/echo/files/.\` to \`/echo/files/\`, which is no gateway route: the app answers 404. Nothing reaches an upstream.`),
  ),
  ...bothMethods('a backslash in a parameter', 'hono-workerd', appAnswered, appAnsweredHead, `${resolvedByWorkerd}It reads \`\\\` as \`/\`: \`/echo/files/a/b\` is no gateway route, and the app answers 404.`),
  ...['a `.` segment', 'a `%2e` segment'].flatMap((name) =>
    bothMethods(name, 'hono-workerd', echoAnswered, echoAnsweredHead, `${resolvedByWorkerd}It resolves \`/echo/./ping\` to \`/echo/ping\`, a gateway route: the echo service answers. On Node the gateway matches the target as sent, and no route matches it.`),
  ),
  ...['a prefix escape with `..`', 'a prefix escape with `%2e%2e`', 'a prefix escape with `%2E%2e`', 'a prefix escape with `.%2e`', 'a prefix escape with backslashes'].flatMap((name) =>
    bothMethods(
      name,
      'hono-workerd',
      echoAnswered,
      echoAnsweredHead,
      `${resolvedByWorkerd}It resolves \`/refused/%2e%2e/echo/ping\` to \`/echo/ping\` before the worker runs, so the echo service answers: the gateway cannot tell it from a request for \`/echo/ping\`, and cannot refuse it (see README, "The raw request target"). On Node the gateway matches the target as sent.`,
    ),
  ),
];

/** @hono/node-server refuses a backslash in the request path itself, before any Hono handler runs. */
const backslashOnHonoNode = (): Divergence[] =>
  ['a backslash in a parameter', 'a prefix escape with backslashes'].flatMap((name) =>
    bothMethods(
      name,
      'hono-node',
      { status: 400, gateway: false, code: undefined, contentType: undefined, bodyStatus: undefined },
      { status: 400, gateway: false, contentType: undefined },
      '@hono/node-server answers a request target with a backslash in its path with its own empty 400 ("Backslash in request path") before the app runs; the gateway never sees it. Nothing reaches an upstream.',
    ),
  );

/** Service bindings are Workers' own: on Node there is no Worker env, and the Node transport reaches URLs only. */
const noBindingsOnNode = (): Divergence[] =>
  (['express', 'koa', 'hono-node'] as const).flatMap((adapter) => [
    {
      case: 'service-binding backend',
      adapter,
      observed: { status: 502, worker: undefined, path: undefined, forwarded: false },
      why: 'A `binding://NAME` backend is another Worker reached through the service binding in the Worker\'s env; the Node transport reaches URL backends only, so every attempt to it fails as an unreachable backend would (502 upstream_unreachable, and a retry may pick another backend of the service). Nothing is sent anywhere.',
    },
    {
      case: 'cf options to a service binding',
      adapter,
      observed: { status: 502, cf: undefined },
      why: 'The route\'s backend is a service binding (see "service-binding backend"), which Node cannot reach; the `cf` options themselves are ignored on Node ("cf options to a URL backend").',
    },
  ]);

/** Durable Objects are Workers' own: on Node the `/limited-do` limiter has no namespace to count in. */
const noDurableObjectsOnNode = (): Divergence[] => {
  const unavailable = [503, undefined, undefined];
  const why =
    "`/limited-do` counts in a Durable Object namespace (RATE_LIMITER, `@apigate/rate-limit/durable-object`), which only workerd has; on Node the gateway is built without one, its store fails every decision and the limiter, `failure: 'closed'`, refuses every request with 503 service_unavailable (`Retry-After: 1`, no RateLimit headers). Nothing reaches the upstream. On Node limits are counted in the memory store (the same cases on `/limited/ping` converge) or in Redis.";
  return (['express', 'koa', 'hono-node'] as const).flatMap((adapter) => [
    {
      case: 'durable object limit under concurrent requests',
      adapter,
      observed: { statuses: { 503: 10 }, codes: ['service_unavailable'], upstreamRequests: 0 },
      why,
    },
    {
      case: 'durable object limit refuses past the limit',
      adapter,
      observed: {
        allowed: [unavailable, unavailable, unavailable],
        refused: { status: 503, gateway: true, code: 'service_unavailable', contentType: 'application/json; charset=utf-8', bodyStatus: 503, policy: undefined, state: undefined, retryAfter: true },
        upstreamRequests: 0,
        otherClient: [unavailable, unavailable, unavailable],
      },
      why,
    },
  ]);
};

export const divergences: readonly Divergence[] = [
  ...pathSafetyOnWorkerd(),
  ...noBindingsOnNode(),
  ...noDurableObjectsOnNode(),
  ...backslashOnHonoNode(),
  {
    case: 'catch-all refuses an encoded `..` segment',
    adapter: 'hono-workerd',
    observed: { status: 200, gateway: false, code: undefined, contentType: undefined, bodyStatus: undefined, upstreamRequests: 1, upstreamUrl: '/store/b' },
    why: 'The WHATWG URL parser resolves `/files/a/%2e%2e/b` to `/files/b` before the worker runs, so the gateway sees no `..` and forwards the tail `b`: the upstream gets `/store/b`, inside the route\'s upstream path. The `..` never reaches the gateway, let alone an upstream.',
  },
  {
    case: 'absolute-form target',
    adapter: 'hono-workerd',
    observed: { status: 500, name: undefined, url: undefined },
    why: 'workerd refuses an absolute-form request target (`GET http://evil.example/echo/ping`) itself, with a plain 500 ("invalid URL" in its log), before any worker code runs, for the app\'s own routes too. Behind Cloudflare\'s edge such a target does not reach workerd.',
  },
  {
    case: 'answers 502 upstream_reset when the upstream resets before responding',
    adapter: 'hono-workerd',
    observed: { code: 'upstream_unreachable', settled: ['upstream_unreachable'] },
    why: 'workerd reports a refused connection and a reset alike, as "Network connection lost." with no error code; the fetch transport cannot tell them apart and maps both to upstream_unreachable. The status (502) is the same.',
  },
  ...(['stale connection replays a GET', 'stale connection replays a held body'] as const).map((name) => ({
    case: name,
    adapter: 'hono-workerd' as const,
    observed: { status: 502, code: 'upstream_unreachable', connections: 1, ...(name === 'stale connection replays a held body' ? { body: undefined } : {}) },
    why: "workerd pools the Worker's outbound connections itself and says nothing of them: a request that meets a pooled connection the upstream closed fails with \"Network connection lost.\", exactly as a refused connection or a reset on a fresh one does. The fetch transport cannot tell that the upstream never got the request, so it does not replay it (a replay after a reset on a fresh connection could apply a POST twice). The Node adapters replay it on a fresh connection.",
  })),
  {
    case: 'stale connection does not replay a streamed upload',
    adapter: 'hono-workerd',
    observed: { code: 'upstream_unreachable' },
    why: 'Not replayed, as on Node; workerd reports the dropped request as "Network connection lost.", which the fetch transport maps to upstream_unreachable (see the upstream_reset case).',
  },
  {
    case: 'upstream closes before responding',
    adapter: 'hono-workerd',
    observed: { code: 'upstream_unreachable', settled: ['upstream_unreachable'] },
    why: 'workerd reports a connection the upstream closed (FIN) before a response byte as it reports a refused one, "Network connection lost." with no error code: the fetch transport maps it to upstream_unreachable. The status (502), the one upstream request and the released connection are the same.',
  },
  {
    case: 'client abort before the response',
    adapter: 'hono-workerd',
    observed: { settled: ['upstream_timeout'] },
    why: "workerd does not tell the worker that its client left before the response: nothing is written to the client yet, so it does not notice, and neither `ctx.waitUntil` nor `request.signal` (with the `enable_request_signal` compatibility flag) hears of it (tried in Miniflare). The gateway's fetch to the upstream goes on until requestTimeout ends it, and the request settles as upstream_timeout instead of client_closed. The upstream request is closed early all the same, and nothing is left open. Once the response has started, a client that leaves is heard (see docs/hono.md).",
  },
  {
    case: 'transform fails mid-body',
    adapter: 'hono-workerd',
    observed: { end: 'clean' },
    why: 'workerd ends an errored response body stream with a clean chunked terminator instead of aborting the connection, so the client reads a truncated body as complete (README, bug 2). A transformed body has no Content-Length for FixedLengthStream to enforce, unless the middleware sets one. The gateway settles `internal` and reports the middleware all the same, and the upstream request is closed.',
  },
  {
    case: 'interceptBody over the limit',
    adapter: 'hono-workerd',
    observed: { status: 200, end: 'clean' },
    why: "The fetch transport has the response head before the body, and workerd ends the errored body stream with a clean chunked terminator (README, bug 2): the client reads an empty 200 as complete. On Node no byte of the head was sent before the interceptor failed, so the connection closes with no response. Either way the client gets no body the interceptor did not see, the gateway settles `internal` and reports the middleware, and the upstream request is closed.",
  },
  {
    case: 'ignores a client-sent CF-Connecting-IP',
    adapter: 'hono-workerd',
    observed: { xForwardedFor: '6.6.6.6', forwardedFor: 'for=6.6.6.6' },
    why: 'On workerd the client address is only known from CF-Connecting-IP, which @apigate/hono reads by default. Cloudflare\'s edge always overwrites that header, but Miniflare keeps a value the client sent (it only fills it in when absent), so locally a client can choose its X-Forwarded-For. The Node adapters use the socket address and ignore the header.',
  },
  {
    case: 'query sent as is',
    adapter: 'hono-workerd',
    observed: { url: `/ping?q=%22x%22%3Cy%3E%27z%27` },
    why: 'workerd hands the worker a Request whose URL went through the WHATWG URL parser, which percent-encodes `"`, `<`, `>` and `\'` in the query of an http(s) URL. The bytes the client sent are gone before the gateway runs; the decoded query is the same.',
  },
  {
    case: 'transfer coding other than chunked',
    adapter: 'hono-workerd',
    observed: { status: 500, gateway: false, code: undefined, contentType: undefined, bodyStatus: undefined },
    why: 'workerd refuses a request whose Transfer-Encoding is not `chunked` alone (`gzip, chunked`) itself, with a plain 500 and `Connection: close`, before any worker code runs. The upstream is not reached either way; on Node the gateway answers 501 not_implemented, as NGINX does.',
  },
  {
    case: 'stalled upload',
    adapter: 'hono-workerd',
    observed: { connection: undefined },
    why: "workerd owns the client connection: it drops a Worker's `Connection` response header, so the 408 the gateway answers to a stalled upload does not say `Connection: close` there. The status, code and the aborted upstream request are the same.",
  },
];

const find = (caseName: string, adapter: AdapterName): Divergence | undefined => divergences.find((d) => d.case === caseName && d.adapter === adapter);

/** Observations per case and adapter, for the cross-adapter comparison at the end of the suite. */
export const observations = new Map<string, Map<AdapterName, Record<string, unknown>>>();

/**
 * Asserts that an adapter's observation of a case matches the common expectation, or, for a
 * known divergence, that it still differs exactly as documented.
 */
export const conform = (caseName: string, adapter: AdapterName, observed: Record<string, unknown>, expected: Record<string, unknown>): void => {
  let byAdapter = observations.get(caseName);
  if (byAdapter === undefined) observations.set(caseName, (byAdapter = new Map()));
  byAdapter.set(adapter, observed);
  const divergence = find(caseName, adapter);
  if (divergence === undefined) {
    expect(observed).toEqual(expected);
    return;
  }
  if (isDeepStrictEqual(observed, expected)) {
    throw new Error(`The known divergence of "${caseName}" on ${adapter} no longer occurs: remove it from test/divergences.ts and README.md.`);
  }
  expect(observed).toEqual({ ...expected, ...divergence.observed });
};

/** Whether an adapter is expected to match the others on a case. */
export const converges = (caseName: string, adapter: AdapterName): boolean => find(caseName, adapter) === undefined;
