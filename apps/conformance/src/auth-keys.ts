/**
 * The API-key, composed-auth and signed-cookie services of the conformance gateway (mounted by
 * gateway.ts). Runtime-neutral, like the rest of the gateway: keys are hashed with WebCrypto and
 * cookies signed with a pure-JS HMAC, in workerd as on Node.
 */
import { allowPreflight, anyOf, apiKey, jwt, signedCookies } from '@apigate/auth';
import { all, get, service } from '@apigate/core';

/** The key the `/keys` and `/either` services know, and its consumer. */
export const conformanceKey = 'k-conformance-0123456789';
export const keyConsumer = { id: 'conformance-client', tier: 'pro' } as const;
/** The headers the consumer goes upstream as. */
export const consumerHeaders = { id: 'x-consumer-id', tier: 'x-consumer-tier' } as const;

/** The cookie keys: the first signs, the second (the one before a rotation) still verifies. */
export const cookieKeys = ['the conformance cookie key, current, 32+ bytes', 'the conformance cookie key, previous, 32+ bytes'] as const;
/** The cookie the `/session` services sign: the echo upstream's `/cookies` sets `a=1` (and `b=2`, left alone). */
export const signedCookie = 'a';

const keyStore = () => apiKey({ keys: [{ key: conformanceKey, consumer: keyConsumer.id, tier: keyConsumer.tier }], from: [{ header: 'x-api-key' }, { query: 'api_key' }], consumerHeaders });

/** The services, for gateway.ts to mount on the first echo upstream; the JWT of `/either` is the `/auth` service's. */
export const authKeyServices = ({ secret, audience }: { secret: string; audience: string }) => ({
  // API keys on a whole service; preflights go through to the upstream's CORS handling.
  keys: service({ name: 'keys', prefix: '/keys', use: [allowPreflight(keyStore())] }, [get('/me'), all('/cors/{*rest}')]),
  // A bearer token or an API key.
  either: service({ name: 'either', prefix: '/either', use: [anyOf(jwt({ secret, audience }), keyStore())] }, [get('/me')]),
  // Signed cookies: `/session/cookies` is the echo upstream's Set-Cookie path, `/session/echo` echoes the Cookie it got.
  session: service({ name: 'session', prefix: '/session', use: [signedCookies({ keys: [...cookieKeys], names: [signedCookie] })] }, [get('/cookies'), get('/echo')]),
  sessionStrict: service({ name: 'session-strict', prefix: '/session-strict', use: [signedCookies({ keys: [...cookieKeys], names: [signedCookie], onInvalid: 'reject' })] }, [get('/echo')]),
});
