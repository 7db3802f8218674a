export { fetchHandler, type FetchHandler, type FetchRequestContext } from './handler.ts';
export { toWebResponse } from './response.ts';
export { FetchTransport, type FetchExchange } from './transport.ts';
export { WebResponseHeaders } from './response-headers.ts';
