export { hopByHop, connectionListed, forwardingHeaders, type ForwardingHeaders, type ForwardingInput } from './headers.ts';
export { serializeParsedBody, encodeForm } from './parsed-body.ts';
export { trustMatcher, parseAddress } from './trust.ts';
export { fetchHandler, toWebResponse, FetchTransport, fetchError, WebBodySource, type FetchHandler, type FetchRequestContext, type FetchExchange } from './fetch/index.ts';
