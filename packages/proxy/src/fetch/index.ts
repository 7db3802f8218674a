export { fetchHandler, toWebResponse, type FetchHandler, type FetchRequestContext } from './handler.ts';
export { FetchTransport, fetchError, type FetchExchange } from './transport.ts';
export { WebBodySource } from './body.ts';
