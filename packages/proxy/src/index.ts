export { hopByHop, connectionListed, forwardingHeaders, type ForwardingHeaders, type ForwardingInput } from './headers.ts';
export { serializeParsedBody, encodeForm } from './parsed-body.ts';
