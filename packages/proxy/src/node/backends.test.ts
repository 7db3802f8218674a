import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createGateway, get, service, type BackendInput, type Gateway } from '@apigate/core';
import { fetchHandler } from '../fetch/handler.ts';
import { FetchTransport } from '../fetch/transport.ts';
import { nodeHandler, type NodeTransportLike } from './bridge.ts';
import { NodeTransport } from './transport.ts';
import { UndiciTransport } from './undici-transport.ts';

/**
 * A CA, a server certificate it signed for `upstream.test` and 127.0.0.1, a client certificate it
 * signed, and a second CA that signed nothing here: made with the openssl CLI (node:crypto makes
 * keys, not X.509 certificates). Elliptic-curve keys, so that it takes a moment, not seconds.
 */
const makePki = (dir: string): Record<'ca' | 'serverKey' | 'serverCert' | 'clientKey' | 'clientCert' | 'rogueCa', string> => {
  const openssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (name: string): void => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-out', `${name}.key`);
  const ca = (name: string, cn: string): void => {
    key(name);
    openssl('req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  };
  const leaf = (name: string, cn: string, extensions: string): void => {
    key(name);
    openssl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  };
  ca('ca', 'apigate test CA');
  ca('rogue', 'another CA');
  leaf('server', 'upstream.test', 'subjectAltName=DNS:upstream.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'gateway', 'extendedKeyUsage=clientAuth\n');
  const read = (file: string): string => readFileSync(join(dir, file), 'utf8');
  return { ca: read('ca.crt'), serverKey: read('server.key'), serverCert: read('server.crt'), clientKey: read('client.key'), clientCert: read('client.crt'), rogueCa: read('rogue.crt') };
};

/** Status, rendered error code and JSON body of one GET over a fresh connection. */
interface Answer {
  readonly status: number;
  readonly code: string | undefined;
  readonly body: Record<string, unknown> | undefined;
}

const servers: Server[] = [];
const listen = async (server: Server, where: string | number = 0): Promise<number> => {
  servers.push(server);
  await new Promise<void>((resolve) => (typeof where === 'string' ? server.listen(where, resolve) : server.listen(where, '127.0.0.1', resolve)));
  return typeof where === 'string' ? 0 : (server.address() as AddressInfo).port;
};

const parse = (status: number, text: string): Answer => {
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  const error = json?.error as { code?: string } | undefined;
  return { status, code: error?.code, body: error === undefined ? json : undefined };
};

const getFrom = (port: number, path: string): Promise<Answer> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(parse(res.statusCode ?? 0, text)));
    });
    req.on('error', reject);
    req.end();
  });

/** A gateway with one `/<name>/who` route per backend; `failed` hears each upstream failure as `path code upstreamCode`. */
/** The transport of each run: http-proxy-3's or undici's. */
const transportOf = (name: 'node' | 'undici', gateway: Gateway): NodeTransportLike => (name === 'undici' ? new UndiciTransport(gateway.upstream) : new NodeTransport(gateway.upstream));

/** Upstream connections in use, over every pool of the transport. */
const busyOf = (transport: NodeTransportLike): number =>
  transport instanceof UndiciTransport
    ? transport.connections.busy
    : [(transport as NodeTransport).httpAgent, (transport as NodeTransport).httpsAgent, ...(transport as NodeTransport).backendAgents].reduce((sum, agent) => sum + Object.values(agent.sockets).reduce((n, list) => n + (list?.length ?? 0), 0), 0);

/** The pools a transport made for backends with settings of their own. */
const ownPools = (transport: NodeTransportLike): number => (transport instanceof UndiciTransport ? transport.backendPools.length : (transport as NodeTransport).backendAgents.length);

const gatewayOf = (services: Record<string, BackendInput>, failed: string[] = []): Gateway => {
  let builder = createGateway({
    renderer: 'json',
    observer: { upstreamFailed: (event) => void failed.push(`${event.path} ${event.error.code} ${String((event.error.details as { upstreamCode?: string }).upstreamCode)}`) },
  });
  for (const [name, backend] of Object.entries(services)) builder = builder.mount(service({ name, prefix: `/${name}` }, [get('/who')]), [backend]);
  return builder.build();
};

describe.each(['node', 'undici'] as const)('the %s transport: per-backend TLS against a real HTTPS upstream', (transportName) => {
  const dir = mkdtempSync(join(tmpdir(), 'apigate-tls-'));
  let pki: ReturnType<typeof makePki>;
  let port = 0;
  let handler: ReturnType<typeof nodeHandler<NodeTransportLike>>;
  let gatewayPort = 0;
  const failed: string[] = [];

  beforeAll(async () => {
    pki = makePki(dir);
    // Asks for a client certificate and reports what it saw instead of refusing: the test reads it.
    // With `ca` set it sends its chain up to the test CA, so an unknown CA reads as SELF_SIGNED_CERT_IN_CHAIN.
    const upstream = createHttpsServer({ key: pki.serverKey, cert: pki.serverCert, ca: pki.ca, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const socket = req.socket as TLSSocket;
      const peer = socket.getPeerCertificate();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ authorized: socket.authorized, client: peer.subject?.CN ?? null, servername: (socket as TLSSocket & { servername?: string | false }).servername || null, url: req.url }));
    });
    port = await listen(upstream);
    const origin = `https://127.0.0.1:${port}`;
    const gateway = gatewayOf({
      ca: { url: origin, tls: { ca: pki.ca } },
      mtls: { url: `${origin}/base`, tls: { ca: Buffer.from(pki.ca), cert: pki.clientCert, key: pki.clientKey } },
      sni: { url: origin, tls: { ca: [pki.ca], servername: 'upstream.test' } },
      mismatch: { url: origin, tls: { ca: pki.ca, servername: 'other.test' } },
      rogue: { url: origin, tls: { ca: pki.rogueCa } },
      insecure: { url: origin, tls: { rejectUnauthorized: false } },
      untrusted: origin,
    }, failed);
    handler = nodeHandler(gateway, transportOf(transportName, gateway));
    gatewayPort = await listen(createHttpServer((req, res) => handler(req, res, () => res.writeHead(404).end())));
  });

  afterAll(async () => {
    handler.transport.close();
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const busy = (): number => busyOf(handler.transport);

  it('verifies the upstream against the configured CA', async () => {
    expect(await getFrom(gatewayPort, '/ca/who')).toEqual({ status: 200, code: undefined, body: { authorized: false, client: null, servername: null, url: '/who' } });
  });

  it('presents the configured client certificate (mutual TLS), a CA given as bytes', async () => {
    expect(await getFrom(gatewayPort, '/mtls/who')).toEqual({ status: 200, code: undefined, body: { authorized: true, client: 'gateway', servername: null, url: '/base/who' } });
  });

  it('sends the configured SNI name and checks the certificate against it', async () => {
    expect(await getFrom(gatewayPort, '/sni/who')).toMatchObject({ status: 200, body: { servername: 'upstream.test', client: null } });
  });

  it.each([
    ['a servername the certificate does not name', '/mismatch/who', 'ERR_TLS_CERT_ALTNAME_INVALID'],
    ['a CA that did not sign it', '/rogue/who', 'SELF_SIGNED_CERT_IN_CHAIN'],
    ["Node's bundled roots only", '/untrusted/who', 'SELF_SIGNED_CERT_IN_CHAIN'],
  ])('refuses an upstream certificate it cannot verify (%s) with 502 bad_gateway, and holds no connection', async (_case, path, upstreamCode) => {
    const answer = await getFrom(gatewayPort, path);
    expect(answer).toEqual({ status: 502, code: 'bad_gateway', body: undefined });
    // The reason is in the observer's event (details, for logs), never in the answer.
    expect(failed).toContain(`${path} bad_gateway ${upstreamCode}`);
    expect(busy()).toBe(0);
  });

  it('skips verification only where rejectUnauthorized is false', async () => {
    expect(await getFrom(gatewayPort, '/insecure/who')).toMatchObject({ status: 200, body: { authorized: false } });
  });

  it('keeps each TLS backend in a pool of its own, and no busy socket once answered', async () => {
    expect(ownPools(handler.transport)).toBeGreaterThanOrEqual(5);
    expect(busy()).toBe(0);
  });
});

describe.each(['node', 'undici'] as const)('the %s transport: Unix-socket backends', (transportName) => {
  const dir = mkdtempSync(join(tmpdir(), 'apigate-unix-'));
  const socket = join(dir, 'upstream.sock');
  let handler: ReturnType<typeof nodeHandler<NodeTransportLike>>;
  let gatewayPort = 0;
  let gateway: Gateway;

  beforeAll(async () => {
    const upstream = createHttpServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ url: req.url, host: req.headers.host, forwardedPort: req.headers['x-forwarded-port'] }));
    });
    await listen(upstream, socket);
    gateway = gatewayOf({
      url: `http+unix://${encodeURIComponent(socket)}/base`,
      option: { url: 'http://app.internal', socketPath: socket },
      missing: `http+unix://${encodeURIComponent(join(dir, 'nothing.sock'))}`,
    });
    handler = nodeHandler(gateway, transportOf(transportName, gateway));
    gatewayPort = await listen(createHttpServer((req, res) => handler(req, res, () => res.writeHead(404).end())));
  });

  afterAll(async () => {
    handler.transport.close();
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    rmSync(dir, { recursive: true, force: true });
  });

  const busy = (): number => busyOf(handler.transport);

  it('reaches a backend given as an http+unix: URL, with its base path and localhost as the Host', async () => {
    expect(await getFrom(gatewayPort, '/url/who')).toEqual({ status: 200, code: undefined, body: { url: '/base/who', host: 'localhost', forwardedPort: String(gatewayPort) } });
  });

  it('reaches a backend given with socketPath, sending the Host of its URL', async () => {
    expect(await getFrom(gatewayPort, '/option/who')).toMatchObject({ status: 200, body: { url: '/who', host: 'app.internal' } });
  });

  it('answers 502 upstream_unreachable when no socket is at the path, and holds no connection', async () => {
    expect(await getFrom(gatewayPort, '/missing/who')).toEqual({ status: 502, code: 'upstream_unreachable', body: undefined });
    expect(busy()).toBe(0);
  });

  it('is refused by the fetch transport with 500 internal, never sent to the URL instead', async () => {
    const handle = fetchHandler(gateway, new FetchTransport(gateway.upstream));
    const response = (await handle(new Request('http://gateway.test/option/who')))!;
    const body = (await response.json()) as { error: { code: string } };
    expect({ status: response.status, code: body.error.code }).toEqual({ status: 500, code: 'internal' });
  });
});
