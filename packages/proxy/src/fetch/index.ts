export { fetchHandler, toWebResponse, type FetchHandler, type FetchRequestContext } from './handler.ts';
export { FetchTransport, type FetchExchange } from './transport.ts';
export { WebResponseHeaders } from './response-headers.ts';
