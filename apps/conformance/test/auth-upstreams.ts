import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { authAudience, introspectionClient } from '../src/gateway.ts';

/**
 * The IdP of the remote-JWKS routes: a key set on loopback that a case rotates keys into, and
 * signs tokens with their private halves. Every answer closes its connection, so a case can check
 * that nothing stays open to it.
 */
export interface JwksUpstream {
  readonly origin: string;
  /** Fetches of the key set so far. */
  fetches(): number;
  /** Adds a new RS256 key to the served set, under `kid`. */
  rotateIn(kid: string): Promise<void>;
  /** A token signed with the key `kid` (the first key, `conformance-1`, by default), for the conformance audience. */
  sign(claims: JWTPayload, kid?: string): Promise<string>;
  connections(): Promise<number>;
  close(): Promise<void>;
}

/** The RFC 7662 endpoint of the introspection routes: answers from `tokens`, anything else inactive. */
export interface IntrospectionUpstream {
  readonly origin: string;
  readonly tokens: Map<string, Record<string, unknown>>;
  calls(): number;
  connections(): Promise<number>;
  close(): Promise<void>;
}

const serve = async (server: Server): Promise<string> => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};
const connectionsOf = (server: Server): Promise<number> => new Promise((resolve, reject) => server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
const stop = (server: Server): Promise<void> =>
  new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
const answer = (res: ServerResponse, status: number, value: unknown): void => {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
};

export const startJwksUpstream = async (): Promise<JwksUpstream> => {
  const keys: JWK[] = [];
  const signers = new Map<string, CryptoKey>();
  let fetches = 0;
  const server = createServer((req, res) => {
    fetches++;
    req.resume();
    answer(res, 200, { keys });
  });
  const rotateIn = async (kid: string): Promise<void> => {
    const { privateKey, publicKey } = await generateKeyPair('RS256');
    signers.set(kid, privateKey);
    keys.push({ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' });
  };
  await rotateIn('conformance-1');
  return {
    origin: await serve(server),
    fetches: () => fetches,
    rotateIn,
    sign: (claims, kid = 'conformance-1') => {
      const key = signers.get(kid) ?? signers.get('conformance-1')!;
      return new SignJWT({ aud: authAudience, ...claims }).setProtectedHeader({ alg: 'RS256', kid }).setIssuedAt().setExpirationTime('1h').sign(key);
    },
    connections: () => connectionsOf(server),
    close: () => stop(server),
  };
};

export const startIntrospectionUpstream = async (): Promise<IntrospectionUpstream> => {
  const tokens = new Map<string, Record<string, unknown>>();
  const basic = `Basic ${Buffer.from(`${introspectionClient.id}:${introspectionClient.secret}`).toString('base64')}`;
  let calls = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      calls++;
      if (req.method !== 'POST' || req.headers.authorization !== basic) return answer(res, 401, { error: 'invalid_client' });
      const token = new URLSearchParams(Buffer.concat(chunks).toString()).get('token') ?? '';
      answer(res, 200, tokens.get(token) ?? { active: false });
    });
  });
  return { origin: await serve(server), tokens, calls: () => calls, connections: () => connectionsOf(server), close: () => stop(server) };
};
