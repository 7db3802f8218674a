import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createGateway, service, type Gateway, type Middleware, type Observer } from '@apigate/core';
import { expressGateway } from '@apigate/express';
import { GatewayBuildError } from '@apigate/errors';
import { closeServer, connectionsOf, listen, send, startUpstream, type Echo, type Reply, type Upstream } from '@apigate/test-utils/http';
import express from 'express';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';

export { send };

/** A key pair for tests, with its public forms. */
export interface TestKey {
  readonly alg: string;
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly publicJwk: JWK;
  readonly publicPem: string;
}

export const makeKey = async (alg: 'RS256' | 'ES256' | 'PS256' | 'EdDSA', kid: string): Promise<TestKey> => {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicJwk, publicPem: await exportSPKI(publicKey) };
};

const now = (): number => Math.floor(Date.now() / 1000);

export interface SignOptions {
  readonly header?: Record<string, unknown>;
  /** Seconds from now; `null` for no `exp`. Default one hour. */
  readonly expiresIn?: number | null;
}

/** A signed token with `iat` now and `exp` in an hour unless said otherwise. */
export const sign = async (claims: JWTPayload, key: TestKey | Uint8Array, { header = {}, expiresIn = 3600 }: SignOptions = {}): Promise<string> => {
  const alg = key instanceof Uint8Array ? 'HS256' : key.alg;
  const kid = key instanceof Uint8Array ? undefined : key.kid;
  const jwt = new SignJWT({ iat: now(), ...(expiresIn === null ? {} : { exp: now() + expiresIn }), ...claims }).setProtectedHeader({ alg, ...(kid && { kid }), ...header });
  return jwt.sign(key instanceof Uint8Array ? key : key.privateKey);
};

export const secret = new TextEncoder().encode('a shared secret of the conformance kind, 32+ bytes');

/** The base64url of a JSON value, for tokens made by hand. */
export const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

export interface TestGateway {
  readonly port: number;
  readonly upstream: Upstream;
  readonly gateway: Gateway;
  /** Upstream sockets the gateway's transport holds in use. */
  busy(): number;
  get(path: string, headers?: Record<string, string>): Promise<Reply>;
  close(): Promise<void>;
}

/**
 * An Express app with the gateway, its `/api` service behind `use` (every path forwarded to an echo
 * upstream), rendered as JSON. A route hook copies the claims jwt() put in scope into
 * `x-seen-claims`, so a case reads them off what the upstream got.
 */
export const startGateway = async (use: Middleware[], routeUse: Middleware[] = [], { maxHeaderSize, observer }: { maxHeaderSize?: number; observer?: Observer } = {}): Promise<TestGateway> => {
  const upstream = await startUpstream();
  const api = service({ name: 'api', prefix: '/api', use }, ({ all }) => [
    all('/{*rest}', {
      use: routeUse,
      before: (ctx) => {
        const claims = ctx.get('claims' as never) as unknown;
        if (claims !== undefined) ctx.headers.set('x-seen-claims', JSON.stringify(claims));
      },
    }),
  ]);
  const gateway = createGateway({ renderer: 'json', observer }).mount(api, [upstream.origin]).build();
  const app = express();
  const handler = expressGateway(gateway);
  app.use(handler);
  const server = createServer({ maxHeaderSize }, app);
  const port = await listen(server);
  return {
    port,
    upstream,
    gateway,
    busy: () => handler.transport.connections.busy,
    get: (path, headers = {}) => send(port, path, { headers }),
    close: async () => {
      await closeServer(server);
      handler.transport.close();
      await gateway.close();
      await upstream.close();
    },
  };
};

/** What a refusal is compared on: status, error code and challenge. */
export const refusal = (reply: Reply): { status: number; code: string | undefined; challenge: string | undefined } => ({
  status: reply.status,
  code: reply.status >= 400 ? (reply.json<{ error: { code: string } }>().error.code) : undefined,
  challenge: reply.headers['www-authenticate'] as string | undefined,
});

/** What the echo upstream got, for a request that passed. */
export const upstreamSaw = (reply: Reply): Echo => {
  if (reply.status !== 200) throw new Error(`expected 200, got ${reply.status}: ${reply.text}`);
  return reply.json<Echo>();
};

export type JwksMode = 'ok' | 'down' | 'garbage' | 'html' | 'stall' | 'huge' | 'huge-declared';

/** A JWKS endpoint on loopback: counts fetches, serves a key set that a test rotates, and misbehaves on demand. */
export interface JwksServer {
  readonly url: string;
  /** Fetches of the key set so far. */
  fetches(): number;
  /** Every path asked for, in order. */
  readonly paths: string[];
  keys: JWK[];
  mode: JwksMode;
  /** How many `huge` answers the reader hung up on before their end. */
  hungUp(): number;
  /** Answers the requests held in `stall` mode (then 200 with the keys). */
  release(): void;
  /** How many held requests there are now. */
  held(): number;
  connections(): Promise<number>;
  close(): Promise<void>;
}

/**
 * An endless answer: valid JSON so far (`prefix`, then whitespace in 64 KiB writes), chunked
 * (`huge`), or declaring 64 MiB (`huge-declared`); it stops when the reader hangs up, or at 64 MiB.
 */
const hugeAnswer = (res: ServerResponse, prefix: string, declared: boolean, hungUp: () => void): void => {
  // Far more than any reader should take: one that reads it all is what the tests catch.
  const total = 64 * 1024 * 1024;
  // Closed before the whole answer was written: the reader stopped reading.
  res.once('close', () => {
    if (sent < total) hungUp();
  });
  res.writeHead(200, { 'content-type': 'application/json', connection: 'close', ...(declared ? { 'content-length': total + 1 } : {}) });
  const pad = Buffer.alloc(64 * 1024, ' ');
  let sent = 0;
  const more = (): void => {
    while (!res.destroyed && sent < total) {
      sent += pad.length;
      if (!res.write(sent === pad.length ? Buffer.concat([Buffer.from(prefix), pad]) : pad)) return void res.once('drain', more);
    }
    if (!declared) res.end();
    else res.destroy();
  };
  more();
};

export const startJwks = async (keys: JWK[]): Promise<JwksServer> => {
  let fetches = 0;
  let hungUp = 0;
  const held: ServerResponse[] = [];
  const server: Server = createServer();
  const port = await listen(server);
  const jwks: JwksServer = {
    url: `http://127.0.0.1:${port}/jwks.json`,
    fetches: () => fetches,
    hungUp: () => hungUp,
    paths: [],
    keys,
    mode: 'ok',
    release: () => {
      for (const res of held.splice(0)) if (!res.destroyed) answer(res);
    },
    held: () => held.filter((res) => !res.destroyed).length,
    connections: () => connectionsOf(server),
    close: () => closeServer(server),
  };
  // `connection: close` on every answer: no idle pooled socket stays behind to hide a leak.
  const answer = (res: ServerResponse): void => {
    const body = JSON.stringify({ keys: jwks.keys });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    jwks.paths.push(req.url ?? '');
    fetches++;
    switch (jwks.mode) {
      case 'ok':
        return answer(res);
      case 'down':
        res.writeHead(500, { connection: 'close' });
        return void res.end('down');
      case 'garbage':
        res.writeHead(200, { 'content-type': 'application/json', connection: 'close' });
        return void res.end(JSON.stringify({ keys: 'not a list' }));
      case 'html':
        res.writeHead(200, { 'content-type': 'text/html', connection: 'close' });
        return void res.end('<html>maintenance</html>');
      case 'stall':
        held.push(res);
        return undefined;
      case 'huge':
      case 'huge-declared':
        return hugeAnswer(res, '{"keys":[', jwks.mode === 'huge-declared', () => hungUp++);
    }
  });
  return jwks;
};

export type IntrospectionMode = 'ok' | 'down' | 'garbage' | 'html' | 'stall' | 'huge' | 'huge-declared';

/** What the introspection endpoint got in one call. */
export interface IntrospectionCall {
  readonly authorization: string | undefined;
  readonly contentType: string | undefined;
  readonly form: Record<string, string>;
}

/** An RFC 7662 endpoint on loopback: answers from `tokens` (unknown ones inactive), counts calls, misbehaves on demand. */
export interface IntrospectionServer {
  readonly url: string;
  readonly calls: IntrospectionCall[];
  /** The answer for each token; a token not in it is `{ active: false }`. */
  readonly tokens: Map<string, Record<string, unknown>>;
  mode: IntrospectionMode;
  /** How many `huge` answers the reader hung up on before their end. */
  hungUp(): number;
  release(): void;
  held(): number;
  connections(): Promise<number>;
  close(): Promise<void>;
}

export const introspectionClient = { id: 'gateway client', secret: 'gateway:secret' };

export const startIntrospection = async (): Promise<IntrospectionServer> => {
  let hungUp = 0;
  const held: ServerResponse[] = [];
  const server: Server = createServer();
  const port = await listen(server);
  // RFC 6749 §2.3.1: both halves form-encoded, then Basic.
  const expected = `Basic ${Buffer.from(`${encodeURIComponent(introspectionClient.id).replaceAll('%20', '+')}:${encodeURIComponent(introspectionClient.secret)}`).toString('base64')}`;
  const endpoint: IntrospectionServer = {
    url: `http://127.0.0.1:${port}/oauth2/introspect`,
    calls: [],
    tokens: new Map(),
    mode: 'ok',
    hungUp: () => hungUp,
    release: () => {
      for (const res of held.splice(0)) if (!res.destroyed) reply(res, 200, { active: false });
    },
    held: () => held.filter((res) => !res.destroyed).length,
    connections: () => connectionsOf(server),
    close: () => closeServer(server),
  };
  const reply = (res: ServerResponse, status: number, value: unknown, type = 'application/json'): void => {
    const body = typeof value === 'string' ? value : JSON.stringify(value);
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), connection: 'close' });
    res.end(body);
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString()));
      endpoint.calls.push({ authorization: req.headers.authorization, contentType: req.headers['content-type'], form });
      if (req.method !== 'POST' || req.headers.authorization !== expected) return reply(res, 401, { error: 'invalid_client' });
      switch (endpoint.mode) {
        case 'ok':
          return reply(res, 200, endpoint.tokens.get(form.token ?? '') ?? { active: false });
        case 'down':
          return reply(res, 503, 'down', 'text/plain');
        case 'garbage':
          return reply(res, 200, { active: 'yes' });
        case 'html':
          return reply(res, 200, '<html>maintenance</html>', 'text/html');
        case 'stall':
          held.push(res);
          return undefined;
        case 'huge':
        case 'huge-declared':
          return hugeAnswer(res, '{"active":true,"sub":"', endpoint.mode === 'huge-declared', () => hungUp++);
      }
    });
  });
  return endpoint;
};

/** The problems (code, where) of the GatewayBuildError that `make` throws; none when it throws none, any other error rethrown. */
export const buildProblems = (make: () => unknown): (readonly [string, string | undefined])[] => {
  try {
    make();
  } catch (error) {
    if (error instanceof GatewayBuildError) return error.problems.map((problem) => [problem.code, problem.at] as const);
    throw error;
  }
  return [];
};
