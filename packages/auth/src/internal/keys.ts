import { GatewayBuildError } from '@apigate/errors';
import { createLocalJWKSet, importJWK, importSPKI, importX509, type CryptoKey, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import { remoteKeys, type RemoteJwksOptions, type RemoteKeys } from './remote-jwks.ts';

export { KeysUnavailable, type CachedJwks, type JwksCacheStore, type RemoteJwksOptions } from './remote-jwks.ts';

export const hmacAlgorithms = ['HS256', 'HS384', 'HS512'] as const;
export const asymmetricAlgorithms = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;
const known: readonly string[] = [...hmacAlgorithms, ...asymmetricAlgorithms];
const isHmac = (alg: string): boolean => (hmacAlgorithms as readonly string[]).includes(alg);

/** Where the keys come from: exactly one of these. */
export interface KeyOptions {
  /** A shared secret for HS256/384/512, as text (UTF-8 bytes) or bytes. */
  readonly secret?: string | Uint8Array;
  /** One public key: a PEM (SPKI or X.509 certificate), a public JWK, or a CryptoKey. */
  readonly key?: string | JWK | CryptoKey;
  /** A key set: the JWKS itself, or the URL it is fetched from (cached, see `jwksCache`). */
  readonly jwks?: string | URL | JSONWebKeySet;
  readonly jwksCache?: RemoteJwksOptions;
  /**
   * The algorithms a token may be signed with. Never read from the token: by default HS256/384/512
   * for a secret, the JWK's own `alg`, and the asymmetric algorithms for a key set. Required for a
   * PEM, a CryptoKey and a JWK without `alg`.
   */
  readonly algorithms?: readonly string[];
}

/** The keys a verifier checks tokens against, and the algorithms it allows. */
export interface Keys {
  readonly algorithms: readonly string[];
  readonly getKey: JWTVerifyGetKey;
  readonly kind: 'secret' | 'key' | 'jwks' | 'remote-jwks';
  /** For a remote set: its prefetch and reporting, which the middleware's init starts. */
  readonly remote?: RemoteKeys;
}

const problem = (message: string): GatewayBuildError => new GatewayBuildError([{ code: 'invalid_option', at: 'jwt()', message }]);

const isCryptoKey = (value: unknown): value is CryptoKey =>
  typeof value === 'object' && value !== null && 'algorithm' in value && 'usages' in value && 'type' in value && 'extractable' in value;

/** The allow-list: the configured one, checked against what the key can do. */
const allowList = (given: readonly string[] | undefined, fallback: readonly string[] | undefined, fits: (alg: string) => boolean, what: string): readonly string[] => {
  const list = given ?? fallback;
  if (list === undefined || list.length === 0) throw problem(`give \`algorithms\` for ${what}: the algorithm is never taken from the token`);
  for (const alg of list) {
    if (!known.includes(alg)) throw problem(`algorithm ${JSON.stringify(alg)} is not one of ${known.join(', ')}`);
    if (!fits(alg)) throw problem(`algorithm ${alg} does not fit ${what}`);
  }
  return [...list];
};

/** One key imported once per algorithm it is used with (WebCrypto binds a key to its algorithm). */
const perAlgorithm = (load: (alg: string) => Promise<CryptoKey | Uint8Array>): JWTVerifyGetKey => {
  const imported = new Map<string, Promise<CryptoKey | Uint8Array>>();
  return (header) => {
    let key = imported.get(header.alg);
    if (key === undefined) {
      key = load(header.alg);
      imported.set(header.alg, key);
    }
    return key;
  };
};

/** Builds the key lookup from the options; a configuration mistake throws a GatewayBuildError now. */
export const keysFrom = ({ secret, key, jwks, jwksCache, algorithms }: KeyOptions): Keys => {
  const given = [secret, key, jwks].filter((value) => value !== undefined).length;
  if (given !== 1) throw problem('give exactly one of `secret`, `key` or `jwks`');
  if (jwksCache !== undefined && !(typeof jwks === 'string' || jwks instanceof URL)) throw problem('`jwksCache` is for a `jwks` URL');

  if (secret !== undefined) {
    const bytes = typeof secret === 'string' ? new TextEncoder().encode(secret) : secret;
    if (!(bytes instanceof Uint8Array) || bytes.byteLength === 0) throw problem('`secret` must be a non-empty string or Uint8Array');
    return { kind: 'secret', algorithms: allowList(algorithms, hmacAlgorithms, isHmac, 'a shared secret'), getKey: () => bytes };
  }

  if (typeof key === 'string') {
    const pem = key.trim();
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) throw problem('`key` is a private key: give the public key (SPKI PEM) or a certificate');
    const certificate = pem.startsWith('-----BEGIN CERTIFICATE-----');
    if (!certificate && !pem.startsWith('-----BEGIN PUBLIC KEY-----')) throw problem('`key` as a string must be a PEM public key (SPKI) or certificate');
    return { kind: 'key', algorithms: allowList(algorithms, undefined, (alg) => !isHmac(alg), 'a public key'), getKey: perAlgorithm((alg) => (certificate ? importX509(pem, alg) : importSPKI(pem, alg))) };
  }

  if (isCryptoKey(key)) {
    const fits = (alg: string): boolean => (key.type === 'secret') === isHmac(alg);
    if (key.type === 'private') throw problem('`key` is a private CryptoKey: give the public key');
    return { kind: 'key', algorithms: allowList(algorithms, key.type === 'secret' ? hmacAlgorithms : undefined, fits, `a ${key.type} CryptoKey`), getKey: () => key };
  }

  if (key !== undefined) {
    if (typeof key !== 'object' || key === null || typeof key.kty !== 'string') throw problem('`key` must be a PEM string, a JWK or a CryptoKey');
    const oct = key.kty === 'oct';
    if (!oct && 'd' in key) throw problem('`key` is a private JWK: give the public key');
    const fits = (alg: string): boolean => oct === isHmac(alg) && (key.alg === undefined || key.alg === alg);
    const fallback = key.alg !== undefined ? [key.alg] : oct ? hmacAlgorithms : undefined;
    const jwk = { ...key };
    return { kind: 'key', algorithms: allowList(algorithms, fallback, fits, `this JWK${key.alg === undefined ? '' : ` (alg ${key.alg})`}`), getKey: perAlgorithm((alg) => importJWK(jwk, alg)) };
  }

  const asymmetric = (alg: string): boolean => !isHmac(alg);
  if (typeof jwks === 'string' || jwks instanceof URL) {
    let url: URL;
    try {
      url = new URL(jwks);
    } catch {
      throw problem('`jwks` is not a URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw problem('`jwks` must be an http(s) URL');
    const remote = remoteKeys(url, jwksCache ?? {});
    return { kind: 'remote-jwks', algorithms: allowList(algorithms, asymmetricAlgorithms, asymmetric, 'a key set'), getKey: remote.getKey, remote };
  }
  if (typeof jwks !== 'object' || jwks === null || !Array.isArray(jwks.keys)) throw problem('`jwks` must be a URL or a JWK set ({ keys: [...] })');
  let local: JWTVerifyGetKey;
  try {
    local = createLocalJWKSet(jwks);
  } catch (error) {
    throw problem(`\`jwks\` is not a valid JWK set: ${(error as Error).message}`);
  }
  return { kind: 'jwks', algorithms: allowList(algorithms, asymmetricAlgorithms, asymmetric, 'a key set'), getKey: local };
};
