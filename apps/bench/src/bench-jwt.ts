import { SignJWT, exportJWK, generateKeyPair, type JSONWebKeySet } from 'jose';

/** The issuer and audience the JWT contestant checks, and the token the load sends it. */
export const benchIssuer = 'https://bench-idp.local/';
export const benchAudience = 'bench';

export interface BenchJwt {
  /** The public key set, for the contestant's own JWKS server (BENCH_JWKS). */
  readonly jwks: JSONWebKeySet;
  /** An RS256 token valid for the whole run. */
  readonly token: string;
}

/** A fresh RS256 key for this run: nothing private is kept in the repository. */
export const makeBenchJwt = async (): Promise<BenchJwt> => {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'RS256', use: 'sig' }] };
  const token = await new SignJWT({ sub: 'bench-user', scope: 'bench' })
    .setProtectedHeader({ alg: 'RS256', kid: 'bench-1', typ: 'JWT' })
    .setIssuer(benchIssuer)
    .setAudience(benchAudience)
    .setIssuedAt()
    .setExpirationTime('12h')
    .sign(privateKey);
  return { jwks, token };
};
