export { NodeTransport, upstreamError, clientClosed, type NodeExchange } from './transport.ts';
export { nodeHandler, sendResponse, type NodeHandler, type NodeRequest } from './bridge.ts';
export { renderClientErrors } from './client-errors.ts';
export { cleanRequestHeaders, cleanResponseHeaders, trustMatcher, peerAddress } from './hygiene.ts';
export { standaloneRequest } from './standalone.ts';
