/**
 * The one gateway every adapter serves in the conformance suite. Runtime-neutral (no Node import):
 * the same module is bundled into the workerd worker (src/worker.ts) and imported by the Node
 * harnesses, so the four adapters run exactly the same routes, policies, renderer and timeouts.
 */
import { introspection, jwt, requireScopes } from '@apigate/auth';
import { all, createGateway, defineRoutes, get, post, roundRobin, service, type Gateway, type Middleware, type Observer, type Policy } from '@apigate/core';
import { json, respond, unauthorized } from '@apigate/errors';
import { dynamicTarget, headerSticky } from '@apigate/policies';
import { interceptBody, rewriteCookies, rewriteLocation } from '@apigate/proxy';
import { byHeader, concurrencyLimit, rateLimit, tokenBucket, type RateLimitStore } from '@apigate/rate-limit';
import { durableObjectStore, type DurableObjectNamespaceLike } from '@apigate/rate-limit/durable-object';
import { get as vget, post as vpost } from '@apigate/validation';
import { z } from 'zod';
import { authKeyServices } from './auth-keys.ts';

/** Where the gateway's upstreams listen; each an origin such as `http://127.0.0.1:41234`. */
export interface Origins {
  /** Echo upstreams; the first also serves every single-backend route. Two or more for stickiness. */
  readonly echo: readonly string[];
  /** Accepts requests and never answers. */
  readonly slow: string;
  /** A port nothing listens on. */
  readonly refused: string;
  /** Accepts the connection and resets it when the request arrives. */
  readonly reset: string;
  /**
   * Closes idle keep-alive connections at exactly `idleKeepAlive` ms, without announcing it in a
   * `Keep-Alive` header (as NGINX does by default).
   */
  readonly idle: string;
  /** Answers a connection's first request; drops any later request on it unanswered. */
  readonly stale: string;
  /** Reads the request and closes the connection (FIN) without answering. */
  readonly hangup: string;
  /** The IdP of the `/auth-jwks` routes: its key set is `/jwks.json`. */
  readonly jwks: string;
  /** The RFC 7662 endpoint of the `/auth-introspect` routes, at `/introspect`. */
  readonly introspection: string;
}

/** How a request on a `/mw` path ended, as the observer's requestEnd heard it, and its id. */
interface Ended {
  readonly id: number;
  readonly entry: string;
}

/** How the gateway settled one forwarded request, as its observer heard it. */
export interface Settled {
  readonly path: string;
  /** The status the upstream answered, or the code of the failure. */
  readonly outcome: number | string;
}

/** The keep-alive timeout of the `idle` upstream: requests spaced around it race its close. */
export const idleKeepAlive = 200;

/**
 * Short, so that the timeout cases are quick; long enough for a response head on a busy machine,
 * and for the streaming and abort cases.
 */
export const requestTimeout = 1_000;

/** The `/tx/generate` routes' own requestTimeout: the memory test waits out a busy host. */
const memoryRequestTimeout = 60_000;

/** The own clientTimeout of the `-stall` routes, whose client stalls for good: quick to wait out. */
export const stalledClientTimeout = 1_000;

/** The token the hook route accepts, and the header it sets upstream from it. */
export const apiToken = 'Bearer conformance';
export const userHeader = 'x-user-id';
/** What the `/echo/secret` hook sends upstream whatever the client sent. */
export const gatewaySecret = 'Bearer gateway-secret';

/**
 * What the platform route's middleware reads from `ctx.platform.env`: a secret, and where its
 * background work goes. A Worker binding and secret on workerd (Miniflare's `bindings`), the Node
 * adapters' `env` option elsewhere.
 */
export interface PlatformBindings {
  readonly PLATFORM_SECRET: string;
  /** The origin the audit middleware's waitUntil work calls (the first echo upstream). */
  readonly AUDIT_ORIGIN: string;
}

/** The secret every adapter's platform env carries. */
export const platformSecret = 'conformance-secret';

/** The Node adapters' `env`: the same values Miniflare binds for the worker. */
export const platformEnv = (origins: Origins): PlatformBindings => ({ PLATFORM_SECRET: platformSecret, AUDIT_ORIGIN: origins.echo[0]! });

/**
 * The shared secret (HS256) of the `/auth` service: a local key, so that workerd verifies without
 * any network. Tokens must name the audience; `sub` goes upstream as the user header.
 */
export const authSecret = 'conformance-auth-secret, 32 bytes or more of it';
export const authAudience = 'conformance';

/** The orders JSON schema and map: the upstream gets `{ lines: [{ sku, quantity }] }`. */
const order = z.object({ sku: z.string().min(1), qty: z.number().int().positive() });
/** The search query schema and map: the upstream gets `?term=…&page=…`. */
const search = z.object({ q: z.string().min(1), page: z.coerce.number().int().min(1).default(1) });

const echo = service({ name: 'echo', prefix: '/echo' }, [
  // Rewrites.
  get('/ping'),
  get('/public', { to: '/internal' }),
  get('/search/{term}', { to: '/find/{term}?source=gateway' }),
  get('/files/{name}', { to: '/raw/{name}' }),
  post('/upload'),
  // The upload's SHA-256, to compare byte for byte what the gateway relayed.
  post('/digest'),
  post('/drip'),
  vpost('/upload/limited', { to: '/upload', json: z.unknown() }),
  // Streaming and header hygiene: the echo upstream answers these paths specially.
  get('/big'),
  get('/stream'),
  get('/hop'),
  get('/hold'),
  get('/cookies'),
  get('/gzip'),
  get('/redirect'),
  get('/no-content'),
  get('/cut'),
  get('/stall'),
  get('/silent'),
  get('/trickle'),
  // Slow clients: the echo upstream floods a response, or counts an upload.
  get('/flood'),
  post('/sink'),
  get('/flood-stall', { upstream: { clientTimeout: stalledClientTimeout } }),
  post('/sink-stall', { upstream: { clientTimeout: stalledClientTimeout } }),
  // A hook: no token is 401 rendered by the gateway; a good one sets a header upstream.
  get('/private', {
    to: '/private',
    before: (ctx) => {
      if (ctx.headers.get('authorization') !== apiToken) return unauthorized();
      ctx.headers.set(userHeader, 'user-1');
      ctx.headers.delete('authorization');
    },
  }),
  // A hook that sets the gateway's own credentials: a client's `Connection` token cannot strip them.
  get('/secret', {
    before: (ctx) => {
      ctx.headers.set('authorization', gatewaySecret);
      ctx.headers.set('x-api-key', 'gateway-key');
    },
  }),
  // Validation and maps.
  vpost('/orders', { json: order, map: (o) => ({ lines: [{ sku: o.sku, quantity: o.qty }] }) }),
  vpost('/orders/raw', { to: '/orders', json: order }),
  vpost('/orders/small', { to: '/orders', json: z.unknown(), limit: 64 }),
  vget('/lookup', { query: search, map: (s) => ({ term: s.q, page: s.page }) }),
]);

// JWT on the whole service; one route also requires a scope.
const auth = service({ name: 'auth', prefix: '/auth', use: [jwt({ secret: authSecret, audience: authAudience, claimHeaders: { sub: userHeader } })] }, [
  get('/me'),
  get('/orders', { use: [requireScopes(['orders:read'])] }),
]);

/** The gateway's client at the introspection endpoint (HTTP Basic). */
export const introspectionClient = { id: 'conformance-gateway', secret: 'conformance-introspection-secret' };

/**
 * The remote-JWKS and introspection services: RS256 tokens against the loopback IdP's key set
 * (cooldown 0, so that a key rotated in is found at once), and tokens checked with the loopback
 * introspection endpoint; the `-down` services point at a port nothing listens on.
 */
const authRemote = (origins: Origins) => {
  const claimHeaders = { sub: userHeader };
  const remote = (url: string) => jwt({ jwks: url, audience: authAudience, claimHeaders, jwksCache: { cooldown: 0, failureCooldown: 0, timeout: 2_000 } });
  const introspect = (endpoint: string) => introspection({ endpoint, clientId: introspectionClient.id, clientSecret: introspectionClient.secret, audience: authAudience, claimHeaders, timeout: 2_000 });
  return [
    service({ name: 'auth-jwks', prefix: '/auth-jwks', use: [remote(`${origins.jwks}/jwks.json`)] }, [get('/me'), get('/orders', { use: [requireScopes(['orders:read'])] })]),
    service({ name: 'auth-jwks-down', prefix: '/auth-jwks-down', use: [remote(`${origins.refused}/jwks.json`)] }, [get('/me')]),
    service({ name: 'auth-introspect', prefix: '/auth-introspect', use: [introspect(`${origins.introspection}/introspect`)] }, [get('/me'), get('/orders', { use: [requireScopes(['orders:read'])] })]),
    service({ name: 'auth-introspect-down', prefix: '/auth-introspect-down', use: [introspect(`${origins.refused}/introspect`)] }, [get('/me')]),
  ];
};

// Catch-all routes: the whole prefix in one line, every method, the tail forwarded as sent.
const files = service({ name: 'files', prefix: '/files' }, [all('/{*rest}', { to: '/store/{*rest}' })]);
const mirror = service({ name: 'mirror', prefix: '/mirror' }, [all('/{*rest}')]);

/**
 * Callbacks that throw on every request of the `faulty` services: the balancer's `end` (or `pick`),
 * and the observer's upstream events. The gateway reports them and goes on; `/faulty/failures`
 * answers with what was reported, in order.
 */
const faulty = service({ name: 'faulty', prefix: '/faulty', policy: 'throwingEnd' }, [
  get('/ping'),
  get('/cut'),
  get('/failures', { before: (ctx) => json(200, { failures: (ctx.state as { failures: string[] }).failures }) }),
]);
const faultyPick = service({ name: 'faulty-pick', prefix: '/faulty-pick', policy: 'throwingPick' }, [get('/ping')]);

const throwingEnd: Policy = {
  name: 'throwingEnd',
  create: (backends) => {
    const inner = roundRobin().create(backends);
    return {
      pick: (request) => inner.pick(request),
      end: () => {
        throw new Error('balancer end failed');
      },
    };
  },
};
/**
 * Picks the first backend not excluded, in configured order: the `/retry` services always meet
 * their refused backend first, and a retry's `other()` goes through the exclusion. It records
 * each attempt's start and end, which a balancer counting requests in flight relies on pairing.
 */
const inOrder = (log: string[]): Policy => ({
  name: 'inOrder',
  create: (backends) => ({
    pick: (request) => backends.find((backend) => request.exclude?.has(backend) !== true),
    start: (backend) => void log.push(`start ${backend.origin}`),
    end: (backend, outcome) => void log.push(`end ${backend.origin} ${outcome.ok ? outcome.status : outcome.code}`),
  }),
});

/**
 * The `/retry` services' middleware: a failed attempt goes to another backend, up to three
 * attempts; each attempt tells the upstream its number, and settle records where the request
 * ended (`/retry-log` answers with it).
 */
const retryOther = (log: string[]): Middleware => ({
  name: 'retry-other',
  retry: (ctx) => (ctx.attempt < 3 ? ctx.other() : undefined),
  upstream: (ctx) => ctx.headers.set('x-attempt', String(ctx.attempt)),
  settle: (event) => void log.push([event.path, event.status, event.error?.code, event.backend?.origin].filter((part) => part !== undefined).join(' ')),
});
/** A retry that names a backend the service does not have: the gateway refuses to send there. */
const rogueRetry: Middleware = {
  name: 'rogue',
  retry: (ctx) => ({ ...ctx.backend, url: 'http://169.254.169.254/', origin: 'http://169.254.169.254' }),
};
const retryRoutes = (log: string[], attempts: string[]) => ({
  // Refused first, then the echo upstream `b`.
  other: service({ name: 'retry-other', prefix: '/retry/other', policy: 'inOrder', use: [retryOther(log)] }, [get('/ping'), post('/upload')]),
  // Refused, refused again: every backend tried.
  none: service({ name: 'retry-none', prefix: '/retry/none', policy: 'inOrder', use: [retryOther(log)] }, [get('/ping')]),
  rogue: service({ name: 'retry-rogue', prefix: '/retry/rogue', policy: 'inOrder', use: [rogueRetry] }, [get('/ping')]),
  log: service({ name: 'retry-log', prefix: '/retry-log' }, [get('/all', { before: () => json(200, { settled: log, attempts }) })]),
});

const throwingPick: Policy = {
  name: 'throwingPick',
  create: () => ({
    pick: () => {
      throw new Error('balancer pick failed');
    },
  }),
};

/**
 * Records how every request settled (for the fault cases to compare across adapters: on workerd
 * the test can only ask the gateway) and throws for the `faulty` service.
 */
const recordingObserver = (failures: string[], settled: Settled[], ended: Ended[], reports: string[]): Observer => ({
  requestEnd: (event) => {
    if (event.path.startsWith('/mw/')) ended.push({ id: event.id, entry: [event.path, event.status, event.error?.code, event.gatewayMade ? 'made' : 'proxied'].filter((part) => part !== undefined).join(' ') });
  },
  upstreamSucceeded: (event) => {
    settled.push({ path: event.path, outcome: event.status });
    if (event.route.service === 'faulty') throw new Error('observer upstreamSucceeded failed');
  },
  upstreamFailed: (event) => {
    settled.push({ path: event.path, outcome: event.error.code });
    if (event.route.service === 'faulty') throw new Error('observer upstreamFailed failed');
  },
  // The platform's reports go to their own list, so that the faulty cases count only their own.
  // Background reports (a key set that failed to load) go there too: the faulty cases count only their own.
  callbackFailed: (failure) => void (failure.callback === 'platform.waitUntil' || failure.callback.endsWith('.init') || failure.callback.endsWith('.background') ? reports : failures).push(failure.callback),
});

/**
 * The lifecycle at three levels on the `/mw` services: each level's middleware appends its name to
 * the `x-order` request header and to the `x-onion` response header, so a case reads the onion's
 * order off what the upstream and the client got; the service level also records how each request
 * settled, which `/mw-log/settled` answers with.
 */
const onion = (name: string, settled?: string[]): Middleware => ({
  name,
  request: (ctx) => {
    ctx.headers.set('x-order', `${ctx.headers.get('x-order') ?? ''}${name[0]}`);
    if (name === 'service' && ctx.headers.has('x-deny')) return unauthorized();
  },
  response: (ctx) => ctx.headers.append('x-onion', name),
  settle: settled && ((event) => void settled.push([event.path, event.status, event.error?.code].filter((part) => part !== undefined).join(' '))),
});
/** Gateway level: only the `/mw` paths carry its mark, so the other cases see their responses as before. */
const gatewayOnion = (settled: string[]): Middleware => {
  const inner = onion('gateway');
  return {
    name: 'gateway',
    response: (ctx) => {
      if (ctx.path.startsWith('/mw/')) inner.response!(ctx);
    },
    settle: (event) => {
      if (event.route === undefined && event.path.startsWith('/mw/')) settled.push([event.path, event.status, event.error?.code].filter((part) => part !== undefined).join(' '));
    },
  };
};
const mwRoutes = (settled: string[], ended: Ended[]) => ({
  echo: service({ name: 'mw', prefix: '/mw', use: [onion('service', settled)] }, [
    get('/echo', { to: '/ping', use: [onion('route')] }),
    get('/hook', { use: [onion('route')], before: () => respond(202, 'made by a hook') }),
    get('/hold', { use: [onion('route')] }),
    get('/cut', { use: [onion('route')] }),
  ]),
  slow: service({ name: 'mw-slow', prefix: '/mw/slow', use: [onion('service', settled)] }, [get('/wait', { use: [onion('route')] })]),
  refused: service({ name: 'mw-refused', prefix: '/mw/refused', use: [onion('service', settled)] }, [get('/any', { use: [onion('route')] })]),
  log: service({ name: 'mw-log', prefix: '/mw-log' }, [
    get('/settled', { before: () => json(200, { settled }) }),
    get('/ended', { before: () => json(200, { ended: ended.map((e) => e.entry), ids: new Set(ended.map((e) => e.id)).size }) }),
  ]),
});
/** `/probe/settled?path=/slow/wait` answers how the requests for that path settled, in order. */
const probe = service({ name: 'probe', prefix: '/probe' }, [
  get('/settled', {
    before: (ctx) => {
      const path = new URLSearchParams(ctx.query).get('path');
      return json(200, { settled: (ctx.state as { settled: Settled[] }).settled.filter((s) => s.path === path).map((s) => s.outcome) });
    },
  }),
]);

/** Upper-cases ASCII letters in place: the chunk is the gateway's own, and nothing is allocated per chunk. */
const upperCase = (chunk: Uint8Array): Uint8Array => {
  for (let i = 0; i < chunk.length; i++) {
    const byte = chunk[i]!;
    if (byte >= 97 && byte <= 122) chunk[i] = byte - 32;
  }
  return chunk;
};

/** The name of the response header that says whether `transform()` took the stream. */
export const transformedHeader = 'x-transformed';

/** Streams the body through an upper-casing transform, and says in a header whether it will. */
const upper: Middleware = {
  name: 'upper',
  response: (ctx) => ctx.headers.set(transformedHeader, String(ctx.transform(new TransformStream({ transform: (chunk, controller) => controller.enqueue(upperCase(chunk)) })))),
};
/** Sets the Content-Length again after the transform inside it: upper-casing keeps the length. */
const keepLength: Middleware = {
  name: 'keep-length',
  response: (ctx) => {
    const length = ctx.headers.get('content-length');
    if (length !== undefined) ctx.headers.set('content-length', length);
  },
};
/** Appends `|name` after the body it got: the suffixes' order is the order the transforms ran in. */
const mark = (name: string): Middleware => ({
  name,
  response: (ctx) => void ctx.transform(new TransformStream({ flush: (controller) => controller.enqueue(new TextEncoder().encode(`|${name}`)) })),
});
/** Passes the first chunk on, then throws: the response has started when it fails. */
const failing: Middleware = {
  name: 'tx-fail',
  response: (ctx) => {
    let chunks = 0;
    ctx.transform(
      new TransformStream({
        transform: (chunk, controller) => {
          if (++chunks > 1) throw new Error('the transform failed mid-body');
          controller.enqueue(chunk);
        },
      }),
    );
  },
};
/** Upper-cases and counts the body, and appends `\n<bytes>` after it: the client checks the count. */
const counting: Middleware = {
  name: 'count',
  response: (ctx) => {
    let bytes = 0;
    ctx.transform(
      new TransformStream({
        transform: (chunk, controller) => {
          bytes += chunk.byteLength;
          controller.enqueue(upperCase(chunk));
        },
        flush: (controller) => controller.enqueue(new TextEncoder().encode(`\n${bytes}`)),
      }),
    );
  },
};
/**
 * Holds the whole body and sends it at the end: what a gateway that buffers would do, the control
 * for the memory measurement of `/tx/generate`.
 */
const buffering: Middleware = {
  name: 'buffering',
  response: (ctx) => {
    const held: Uint8Array[] = [];
    ctx.transform(
      new TransformStream({
        transform: (chunk) => void held.push(chunk),
        flush: (controller) => {
          for (const chunk of held.splice(0)) controller.enqueue(chunk);
        },
      }),
    );
  },
};
/** Response body transforms: the routes' upstream paths are the echo upstream's special ones. */
const tx = service({ name: 'tx', prefix: '/tx' }, [
  get('/upper', { to: '/big', use: [upper] }),
  get('/upper-length', { to: '/big', use: [keepLength, upper] }),
  get('/fail', { to: '/big', use: [failing] }),
  get('/hold', { to: '/hold', use: [upper] }),
  get('/flood', { to: '/flood', use: [upper] }),
  // The memory measurement times nothing: on a loaded host the upstream (in the test's process)
  // may take longer than the suite's short requestTimeout to start 100 MiB (a 504 seen there).
  get('/generate', { to: '/generate', use: [counting], upstream: { requestTimeout: memoryRequestTimeout } }),
  get('/generate-buffered', { to: '/generate', use: [counting, buffering], upstream: { requestTimeout: memoryRequestTimeout } }),
]);
/** Transforms at three levels: the gateway's (gatewayMark) sees the service's output, which saw the route's. */
const txOrder = service({ name: 'tx-order', prefix: '/tx-order', use: [mark('service')] }, [get('/ping', { use: [mark('route'), upper] })]);
const gatewayMark: Middleware = {
  name: 'gateway-mark',
  response: (ctx) => {
    if (ctx.path.startsWith('/tx-order/')) mark('gateway').response!(ctx);
  },
};
/**
 * The platform: a middleware with an async init that sends the env's secret upstream and, for a
 * request with `x-audit-id`, hands work to waitUntil that outlives the response (a call the echo
 * upstream holds until the test releases it, then a second call); `x-audit-fail` hands it a
 * promise that rejects. Another middleware's init fails: its route answers 503. `/platform/reports`
 * answers what the gateway reported of waitUntil work and inits.
 */
const audit = (): Middleware => {
  let loaded = false;
  return {
    name: 'audit',
    // A slow key server: the init outlasts the request during which the gateway was built. On
    // workerd that request's context must stay alive (waitUntil) until it ends, or its timer is
    // cancelled and requests waiting for the init hang.
    init: async () => {
      await new Promise((resolve) => setTimeout(resolve, 250));
      loaded = true;
    },
    request: (ctx) => {
      const env = ctx.platform.env as Partial<PlatformBindings>;
      ctx.headers.set('x-platform-secret', env.PLATFORM_SECRET ?? 'none');
      ctx.headers.set('x-audit-loaded', String(loaded));
      const id = ctx.headers.get('x-audit-id');
      if (id !== undefined) {
        const url = `${env.AUDIT_ORIGIN}/background?id=${encodeURIComponent(id)}`;
        ctx.platform.waitUntil(
          (async () => {
            await (await fetch(`${url}&step=held`)).text();
            await (await fetch(`${url}&step=after`)).text();
          })(),
        );
      }
      if (ctx.headers.has('x-audit-fail')) ctx.platform.waitUntil(Promise.reject(new Error('the audit log is down')));
    },
  };
};
const brokenKeys: Middleware = {
  name: 'broken-keys',
  init: () => Promise.reject(new Error('the key server is down')),
  request: (ctx) => void ctx.headers.set('x-broken-ran', 'yes'),
};
/** A route hook that admits only a client sending the platform's secret, as an API key check would. */
const platformKey = defineRoutes<{ bindings: PlatformBindings }>().get('/keyed', {
  to: '/ping',
  before: (ctx) => (ctx.headers.get('x-platform-key') === ctx.platform.env.PLATFORM_SECRET ? undefined : unauthorized()),
});
const platform = (reports: string[]) =>
  service({ name: 'platform', prefix: '/platform', use: [audit()] }, [
    platformKey,
    get('/audit', { to: '/ping' }),
    get('/broken', { to: '/ping', use: [brokenKeys] }),
    get('/reports', { before: () => json(200, { reports }) }),
  ]);

/**
 * Backends that are Workers, named by their service binding: BOUND is bound on workerd (to a
 * Worker that answers with what it got, `cf` included), MISSING nowhere. The cf options of
 * `/cached` go with the fetch on workerd, and are ignored on Node.
 */
const bound = service({ name: 'bound', prefix: '/bound' }, [get('/who', { to: '/whoami' }), get('/cached', { to: '/whoami', upstream: { cf: { cacheTtl: 60, cacheKey: 'conformance' } } })]);
const unbound = service({ name: 'unbound', prefix: '/unbound' }, [get('/who')]);
const cached = service({ name: 'cached', prefix: '/cached' }, [get('/ping', { upstream: { cf: { cacheTtl: 60, cacheEverything: true } } })]);

const sticky = service({ name: 'sticky', prefix: '/sticky', policy: 'byUser' }, [get('/who')]);
const slow = service({ name: 'slow', prefix: '/slow' }, [get('/wait')]);
const refused = service({ name: 'refused', prefix: '/refused' }, [get('/any')]);
const reset = service({ name: 'reset', prefix: '/reset' }, [get('/any')]);
// Stale pooled connections: a GET, a validated POST whose body the gateway holds, and a streamed
// upload, on an upstream that closes idle connections and on one that drops reused ones.
const keepAliveRoutes = () => [get('/ping'), vpost('/orders', { json: order }), post('/upload')];
const idle = service({ name: 'idle', prefix: '/idle' }, keepAliveRoutes());
const stale = service({ name: 'stale', prefix: '/stale' }, keepAliveRoutes());
const hangup = service({ name: 'hangup', prefix: '/hangup' }, [get('/any')]);

/** The limit of the `/hpm/small` interceptor: below any echo answer, so that every one is over it. */
export const interceptLimit = 64;

/**
 * What http-proxy-middleware users reach for: a JSON body interceptor (and one whose limit every
 * echo answer passes), Location/Set-Cookie rewriting from the echo upstream's origin to the
 * gateway's public paths, and backends chosen per request among the configured ones.
 */
const hpmRoutes = (origins: Origins) => {
  const wrap = interceptBody({
    intercept: (body) => {
      const echo = JSON.parse(body) as { url: string; headers: Record<string, string | undefined> };
      return JSON.stringify({ intercepted: true, url: echo.url, acceptEncoding: echo.headers['accept-encoding'] });
    },
  });
  const small = interceptBody({ name: 'intercept-small', intercept: (body) => body, limit: interceptLimit });
  return {
    hpm: service({ name: 'hpm', prefix: '/hpm' }, [get('/json', { to: '/ping', use: [wrap] }), get('/small', { to: '/ping', use: [small] })]),
    rewrite: service({ name: 'rewrite', prefix: '/rewrite', use: [rewriteLocation(), rewriteCookies({ domain: { 'internal.example': '' }, path: { '/': '/rewrite/' } })] }, [all('/{*rest}')]),
    tenant: service({ name: 'tenant', prefix: '/tenant', policy: 'byTenant' }, [get('/who', { to: '/ping' })]),
    target: service({ name: 'target', prefix: '/target', policy: 'byTarget' }, [get('/who', { to: '/ping' })]),
    policies: {
      // Two echo upstreams by tenant; `ghost` names an address that is no backend of the service.
      byTenant: dynamicTarget({ name: 'by-tenant', header: 'x-tenant', targets: { one: origins.echo[0]!, two: origins.echo[1]!, ghost: origins.refused }, fallback: 'none' }),
      // The client names the backend itself: only the service's own are ever reached.
      byTarget: dynamicTarget({ name: 'by-target', select: (request) => request.headers.get('x-target') }),
    },
  };
};

/** The limit of `/limited/ping`: per `x-client` value, so that each case counts on a key of its own. */
export const hourlyLimit = 3;
/** The header the limiters key on. */
export const clientHeader = 'x-client';

/**
 * Rate limits with the memory store: `/limited/ping` allows `hourlyLimit` requests an hour per
 * `x-client` (a token bucket: no window edge for a case to straddle) and sends the RateLimit headers
 * on allowed responses too; the `/limited/slots` routes
 * and the `limited-down`/`limited-slow` services share one concurrency limit of one request in flight
 * per `x-client`, which each ending must free (`x-deny` makes a middleware inside it refuse).
 */
const limitedRoutes = () => {
  const quota = rateLimit({ name: 'quota', key: byHeader(clientHeader), limits: [tokenBucket({ rate: hourlyLimit, per: '1h', name: 'hourly' })], headers: { allowed: true } });
  const slots = concurrencyLimit({ name: 'slots', max: 1, key: byHeader(clientHeader) });
  const denyInside: Middleware = { name: 'deny-inside', request: (ctx) => (ctx.headers.has('x-deny') ? unauthorized() : undefined) };
  return {
    limited: service({ name: 'limited', prefix: '/limited' }, [
      get('/ping', { use: [quota] }),
      get('/slots/ping', { to: '/ping', use: [slots, denyInside] }),
      get('/slots/hook', { to: '/ping', use: [slots], before: () => respond(202, 'made by a hook') }),
      get('/slots/hold', { to: '/hold', use: [slots] }),
    ]),
    down: service({ name: 'limited-down', prefix: '/limited-down', use: [slots] }, [get('/any')]),
    slow: service({ name: 'limited-slow', prefix: '/limited-slow', use: [slots] }, [get('/wait')]),
  };
};

/** What only some runtimes give the gateway: a Durable Object namespace on workerd. */
export interface GatewayBindings {
  /** The RateLimitObject namespace of `/limited-do`; absent on Node, which has no Durable Objects. */
  readonly rateLimiter?: DurableObjectNamespaceLike | undefined;
}

/** Where `/limited-do` counts when the runtime has no Durable Object namespace to give it. */
const noNamespace: RateLimitStore = {
  consume: () => {
    throw new Error('no RATE_LIMITER Durable Object namespace: this runtime has no Durable Objects');
  },
};

/**
 * `/limited-do/ping`: the same limit as `/limited/ping` (`hourlyLimit` an hour per `x-client`, the
 * RateLimit headers on allowed responses too), counted in one RateLimitObject per client through
 * the Durable Object store. Closed on failure, so that a runtime without the namespace (Node)
 * refuses with 503 instead of letting everything through unseen; the store's timeout is generous,
 * a busy machine's round trip to the object is no store failure.
 */
const durableLimited = (namespace: DurableObjectNamespaceLike | undefined) =>
  service({ name: 'limited-do', prefix: '/limited-do' }, [
    get('/ping', {
      use: [
        rateLimit({
          name: 'global',
          key: byHeader(clientHeader),
          limits: [tokenBucket({ rate: hourlyLimit, per: '1h', name: 'hourly' })],
          store: namespace === undefined ? noNamespace : durableObjectStore(namespace, { timeout: 10_000 }),
          failure: 'closed',
          onStoreError: () => {},
          headers: { allowed: true },
        }),
      ],
    }),
  ]);

/** Builds the conformance gateway over the given upstreams. */
export const buildGateway = (origins: Origins, { rateLimiter }: GatewayBindings = {}): Gateway => {
  const failures: string[] = [];
  const settled: Settled[] = [];
  const mwSettled: string[] = [];
  const ended: Ended[] = [];
  const mw = mwRoutes(mwSettled, ended);
  const limited = limitedRoutes();
  const attempts: string[] = [];
  const retries = retryRoutes([], attempts);
  const hpm = hpmRoutes(origins);
  const reports: string[] = [];
  const remoteAuth = authRemote(origins);
  // API keys, anyOf() and signed cookies: src/auth-keys.ts.
  const keyed = authKeyServices({ secret: authSecret, audience: authAudience });
  return createGateway({
    renderer: 'json',
    use: [gatewayOnion(mwSettled), gatewayMark],
    state: { failures, settled },
    observer: recordingObserver(failures, settled, ended, reports),
    policies: { byUser: headerSticky('x-user'), throwingEnd, throwingPick, inOrder: inOrder(attempts), ...hpm.policies },
    upstream: { requestTimeout },
  })
    .mount(echo, [origins.echo[0]!])
    .mount(retries.other, [origins.refused, origins.echo[1]!])
    .mount(retries.none, [origins.refused, origins.refused])
    .mount(retries.rogue, [origins.refused, origins.echo[1]!])
    .mount(retries.log, [origins.echo[0]!])
    .mount(auth, [origins.echo[0]!])
    .mount(files, [origins.echo[0]!])
    .mount(mirror, [origins.echo[0]!])
    .mount(sticky, [...origins.echo])
    .mount(slow, [origins.slow])
    .mount(refused, [origins.refused])
    .mount(reset, [origins.reset])
    .mount(idle, [origins.idle])
    .mount(stale, [origins.stale])
    .mount(hangup, [origins.hangup])
    .mount(faulty, [origins.echo[0]!])
    .mount(faultyPick, [origins.echo[0]!])
    .mount(probe, [origins.echo[0]!])
    .mount(mw.echo, [origins.echo[0]!])
    .mount(mw.slow, [origins.slow])
    .mount(mw.refused, [origins.refused])
    .mount(mw.log, [origins.echo[0]!])
    .mount(limited.limited, [origins.echo[0]!])
    .mount(limited.down, [origins.refused])
    .mount(limited.slow, [origins.slow])
    .mount(durableLimited(rateLimiter), [origins.echo[0]!])
    .mount(tx, [origins.echo[0]!])
    .mount(txOrder, [origins.echo[0]!])
    .mount(platform(reports), [origins.echo[0]!])
    .mount(bound, ['binding://BOUND'])
    .mount(unbound, ['binding://MISSING'])
    .mount(cached, [origins.echo[0]!])
    .mount(remoteAuth[0]!, [origins.echo[0]!])
    .mount(remoteAuth[1]!, [origins.echo[0]!])
    .mount(remoteAuth[2]!, [origins.echo[0]!])
    .mount(remoteAuth[3]!, [origins.echo[0]!])
    .mount(keyed.keys, [origins.echo[0]!])
    .mount(keyed.either, [origins.echo[0]!])
    .mount(keyed.session, [origins.echo[0]!])
    .mount(keyed.sessionStrict, [origins.echo[0]!])
    .mount(hpm.hpm, [origins.echo[0]!])
    .mount(hpm.rewrite, [`${origins.echo[0]!}/base`])
    .mount(hpm.tenant, [...origins.echo])
    .mount(hpm.target, [...origins.echo])
    .build();
};
