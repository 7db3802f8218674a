export { NodeTransport, type NodeExchange } from './transport.ts';
export { UndiciTransport } from './undici-transport.ts';
export { renderClientErrors } from './client-errors.ts';

// For adapter authors: the Node bridge the Express, Koa and Hono-on-Node adapters wrap. Each is
// imported by an adapter, so it is API, but an app mounts an adapter instead.
export { nodeHandler, sendResponse, type NodeHandler, type NodeHandlerOptions, type NodeTransportLike, type NodeRequest } from './bridge.ts';
export { peerAddress } from './hygiene.ts';
export { standaloneRequest, watchResponse, type ResponseWatch } from './standalone.ts';
