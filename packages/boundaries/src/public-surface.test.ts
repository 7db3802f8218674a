import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';

/**
 * The values each published entry exports, and nothing more: an export added to an index file
 * must be added here on purpose. Internals (createInput, the compiled routes) stay in their modules,
 * which the exports maps close; what transports share (body choice, hygiene, trust, fault mapping)
 * is the transport port, `@apigate/core/exchange`. The marked
 * ones are for adapter and transport authors: another workspace package imports each of them.
 */
const surface: Record<string, readonly string[]> = {
  '@apigate/errors': [
    'GatewayBuildError', 'GatewayError', 'badGateway', 'badRequest', 'buildProblemCodes', 'defaultMessage', 'errorStatus', 'forbidden', 'gatewayTimeout',
    'internal', 'isErrorCode', 'isGatewayError', 'isGatewayResponse', 'json', 'jsonRenderer', 'methodNotAllowed', 'notFound', 'notImplemented',
    'payloadTooLarge', 'problemRenderer', 'renderError', 'resolveRenderer', 'respond', 'serviceUnavailable', 'statusText', 'textRenderer',
    'toGatewayError', 'tooManyRequests', 'unauthorized', 'unsupportedMediaType', 'validationFailed',
  ],
  '@apigate/core': [
    'all', 'createGateway', 'defaultBodyLimit', 'defineRoutes', 'del', 'get', 'head', 'loggingObserver', 'methods', 'options',
    'patch', 'post', 'put', 'query', 'roundRobin', 'service',
    // For adapter, transport and policy authors (the adapters, @apigate/proxy, @apigate/policies).
    'runHook', 'upstreamDefaults', 'smoothRoundRobin',
    // For adapter authors: a middleware run outside a gateway (expressMiddleware and the like).
    'isMiddleware', 'runStandaloneResponse', 'runStandaloneSettle',
  ],
  // The transport port, for transport authors (@apigate/proxy's two transports use every value;
  // @apigate/validation measures a parsed chunked body with BodyLimit and serializeParsedBody).
  '@apigate/core/exchange': [
    'BodyLimit', 'TransportError', 'clientGoneCode', 'clientTimeoutCode', 'connectionDropped', 'connectionListed', 'forwardingHeaders', 'hopByHop', 'hopByHopButFraming',
    'noBindingCode', 'outgoingBody', 'serializeParsedBody', 'transferCodingRefusal', 'trustMatcher', 'upstreamFailure', 'upstreamTimeoutCode',
  ],
  '@apigate/validation': ['all', 'declaredSchemas', 'defaultMaxDepth', 'defineRoutes', 'del', 'get', 'head', 'maxIssues', 'options', 'patch', 'post', 'put', 'query', 'validate'],
  '@apigate/policies': [
    'byClientIp', 'byCookie', 'byHeader', 'byPathParam', 'byTarget', 'consistentHash', 'consistentHashBalancer', 'cookieSticky', 'dynamicTarget', 'headerSticky', 'leastRequest',
    'leastRequestBalancer', 'leastTime', 'leastTimeBalancer', 'noKey', 'pathSticky', 'policy', 'readCookie', 'roundRobin', 'roundRobinBalancer',
  ],
  '@apigate/policies/round-robin': ['roundRobin', 'roundRobinBalancer'],
  '@apigate/policies/consistent-hash': ['byClientIp', 'consistentHash', 'consistentHashBalancer'],
  '@apigate/policies/least-request': ['leastRequest', 'leastRequestBalancer'],
  '@apigate/policies/least-time': ['leastTime', 'leastTimeBalancer'],
  '@apigate/policies/no-key': ['noKey'],
  '@apigate/policies/client-ip': ['byClientIp', 'consistentHash'],
  '@apigate/policies/header-sticky': ['byHeader', 'headerSticky'],
  '@apigate/policies/path-sticky': ['byPathParam', 'pathSticky'],
  '@apigate/policies/cookie-sticky': ['byCookie', 'cookieSticky', 'readCookie'],
  '@apigate/policies/dynamic-target': ['byTarget', 'dynamicTarget'],
  '@apigate/auth': [
    'asymmetricAlgorithms', 'claimsKey', 'hmacAlgorithms', 'introspection', 'jwt', 'requireScopes',
    'allOf', 'allowPreflight', 'anonymousConsumer', 'anyOf', 'apiKey', 'consumerKey', 'cookieSigner', 'hashApiKey', 'memoryKeyStore', 'optional', 'signedCookies', 'signedCookiesKey',
  ],
  '@apigate/rate-limit': ['MemoryStore', 'allRequests', 'byHeader', 'byIp', 'byRoute', 'byScope', 'concurrencyLimit', 'fixedWindow', 'joinKeys', 'memoryStore', 'rateLimit', 'slidingWindow', 'tokenBucket'],
  '@apigate/rate-limit/durable-object': ['RateLimitObject', 'durableObjectStore'],
  '@apigate/rate-limit/redis': ['RedisStore', 'redisStore'],
  '@apigate/proxy': ['FetchTransport', 'WebResponseHeaders', 'defaultInterceptLimit', 'fetchHandler', 'interceptBody', 'rewriteCookies', 'rewriteLocation', 'toWebResponse'],
  '@apigate/proxy/node': [
    'NodeTransport', 'UndiciTransport', 'renderClientErrors',
    // For adapter authors: the bridge that @apigate/express, @apigate/koa and @apigate/hono/node wrap.
    'nodeHandler', 'peerAddress', 'sendResponse', 'standaloneRequest', 'watchResponse',
  ],
  '@apigate/express': ['expressFastLane', 'expressGateway', 'expressMiddleware', 'renderClientErrors'],
  '@apigate/koa': ['koaGateway', 'koaMiddleware', 'renderClientErrors'],
  '@apigate/hono': ['honoGateway', 'honoMiddleware', 'parsedBodyOf', 'workerGateway'],
  '@apigate/hono/node': ['honoGateway', 'renderClientErrors'],
};

const packagesDir = fileURLToPath(new URL('../../', import.meta.url));

/** Every entry that a published package's exports map opens, as an import specifier. */
const publishedEntries = (): string[] =>
  readdirSync(packagesDir).flatMap((folder) => {
    let manifest: { name: string; private?: boolean; exports?: Record<string, unknown> };
    try {
      manifest = JSON.parse(readFileSync(join(packagesDir, folder, 'package.json'), 'utf8'));
    } catch {
      return [];
    }
    if (manifest.private) return [];
    return Object.entries(manifest.exports ?? {})
      .filter(([key, target]) => target !== null && key !== './package.json')
      .map(([key]) => (key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`));
  });

describe('the published surface', () => {
  it('lists every entry of the published exports maps, and only those', () => {
    expect(Object.keys(surface).sort()).toEqual(publishedEntries().sort());
  });

  it.each(Object.entries(surface))('%s exports only its public values', async (entry, expected) => {
    const module = (await import(entry)) as Record<string, unknown>;
    expect(Object.keys(module).sort()).toEqual([...expected].sort());
  });
});
