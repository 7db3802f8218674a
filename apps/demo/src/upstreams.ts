import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A received body as the echo shows it: parsed when it is JSON, left out when empty. */
const shown = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return text === '' ? undefined : text;
  }
};

/** A small upstream that answers with what it received, so curl shows what the gateway sent. */
export const startUpstream = async (name: string): Promise<{ server: Server; url: string }> => {
  const server = createServer((req, res) => {
    if (req.url === '/moved') {
      // A redirect and a cookie in the upstream's own terms: its origin, its domain, its root path.
      res.writeHead(302, { location: `http://${req.headers.host ?? ''}/welcome`, 'set-cookie': 'session=1; Domain=sales.internal; Path=/; HttpOnly', 'content-length': 0 });
      res.end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received = Buffer.concat(chunks);
      const echo = { upstream: name, method: req.method, url: req.url, bodyBytes: received.length, body: shown(received.toString()), headers: req.headers };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(echo, null, 2)}\n`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
};

/** The demo's identity provider: an RS256 key set at /jwks.json, and an RFC 7662 endpoint at /introspect. */
export interface DemoIdp {
  readonly server: Server;
  readonly url: string;
  /** A token signed by the key of the set, valid 24 h. */
  readonly jwt: string;
  /** An opaque token the introspection endpoint says is active. */
  readonly opaque: string;
  /** The gateway's credentials at the introspection endpoint. */
  readonly client: { readonly id: string; readonly secret: string };
}

export const startIdp = async (): Promise<DemoIdp> => {
  const { SignJWT, exportJWK, generateKeyPair } = await import('jose');
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'demo-rs-1', alg: 'RS256', use: 'sig' }] });
  const jwt = await new SignJWT({ sub: 'rs-user', scope: 'profile' }).setProtectedHeader({ alg: 'RS256', kid: 'demo-rs-1' }).setIssuedAt().setExpirationTime('24h').sign(privateKey);
  const opaque = crypto.randomUUID();
  const client = { id: 'demo-gateway', secret: crypto.randomUUID() };
  const basic = `Basic ${Buffer.from(`${client.id}:${client.secret}`).toString('base64')}`;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      if (req.method === 'GET' && req.url === '/jwks.json') return void res.end(jwks);
      if (req.method !== 'POST' || req.url !== '/introspect') return void res.writeHead(404).end('{}');
      if (req.headers.authorization !== basic) return void res.writeHead(401).end('{"error":"invalid_client"}');
      const token = new URLSearchParams(Buffer.concat(chunks).toString()).get('token');
      const exp = Math.floor(Date.now() / 1000) + 3600;
      res.end(JSON.stringify(token === opaque ? { active: true, sub: 'opaque-user', scope: 'profile', client_id: 'demo-spa', exp } : { active: false }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, jwt, opaque, client };
};
