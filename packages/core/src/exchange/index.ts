// The transport port: what a transport needs from the exchange that core owns (DESIGN.md, "one
// exchange, in core"). For transport and adapter authors; an app mounts an adapter instead.
export { outgoingBody, type BodyState, type OutgoingBody } from './body.ts';
export {
  clientGoneCode,
  clientTimeoutCode,
  noBindingCode,
  upstreamFailure,
  upstreamTimeoutCode,
  TransportError,
  type AttemptDecision,
  type AttemptFailure,
} from './failure.ts';
export {
  connectionDropped,
  connectionListed,
  forwardingHeaders,
  hopByHop,
  hopByHopButFraming,
  transferCodingRefusal,
  type ForwardingHeaders,
  type ForwardingInput,
} from './headers.ts';
export { BodyLimit } from './limit.ts';
export { serializeParsedBody } from './parsed-body.ts';
export { trustMatcher } from './trust.ts';
