import { GatewayError } from '@apigate/errors';
import type { ForwardPlan } from '../plan.ts';
import type { RequestHeaders } from '../request.ts';
import { serializeParsedBody } from './parsed-body.ts';

/** What a transport knows of the client's body when the request is about to go upstream. */
export interface BodyState {
  /** The bytes the route read from the stream to check them (validation, a map), if it did. */
  readonly read: Uint8Array | undefined;
  /**
   * Set when the host framework consumed the stream before the gateway (a body parser ran in front
   * of it): what it made of the body, `undefined` when it kept nothing.
   */
  readonly consumed: { readonly value: unknown } | undefined;
  /** The request headers as they go upstream; the body's framing headers are set here. */
  readonly headers: RequestHeaders;
}

/** The body that goes upstream: the client's stream as it comes, or bytes the gateway holds. */
export type OutgoingBody = { readonly kind: 'stream' } | { readonly kind: 'bytes'; readonly bytes: Uint8Array };

const stream: OutgoingBody = { kind: 'stream' };

const held = (headers: RequestHeaders, bytes: Uint8Array): OutgoingBody => {
  // The gateway frames what it holds: a chunked upload it read goes on with its length.
  headers.delete('transfer-encoding');
  headers.set('content-length', String(bytes.byteLength));
  return { kind: 'bytes', bytes };
};

/**
 * Decides which body goes upstream, once for every transport (DESIGN.md rule 3), and sets the
 * framing headers to match: a validated or mapped replacement, else the bytes the route read, else
 * the re-serialized body a host's parser already made, else the client's stream.
 */
export const outgoingBody = (plan: Pick<ForwardPlan, 'body' | 'contentType'>, { read, consumed, headers }: BodyState): OutgoingBody | GatewayError => {
  if (plan.body !== undefined) {
    // The bytes are the gateway's own (JSON or form it serialized): the client's encoding is gone.
    headers.delete('content-encoding');
    headers.set('content-type', plan.contentType ?? 'application/octet-stream');
    return held(headers, plan.body);
  }
  if (read !== undefined) return held(headers, read);
  if (consumed === undefined) return stream;
  // body-parser turns an empty JSON body into `{}`: what the client declared empty stays empty.
  if (headers.get('content-length') === '0' && !headers.has('transfer-encoding')) return held(headers, new Uint8Array(0));
  let bytes: Uint8Array | undefined;
  try {
    bytes = serializeParsedBody(consumed.value, headers.get('content-type'));
  } catch (cause) {
    // A parser in front accepted JSON nested deeper than JSON.stringify can recurse: the client's fault.
    if (cause instanceof RangeError) return new GatewayError('invalid_json', { message: 'The request body is nested too deeply to forward.', cause });
    return new GatewayError('internal', { details: { reason: 'the parsed request body could not be re-serialized' }, cause });
  }
  if (bytes === undefined) {
    const declared = Number(headers.get('content-length') ?? 0);
    // Forwarding nothing would drop the client's body without a word.
    if (declared > 0 || headers.has('transfer-encoding')) {
      return new GatewayError('internal', { details: { reason: 'the request body was read by another middleware and not kept' } });
    }
    return held(headers, new Uint8Array(0));
  }
  // A parser decoded the body (gzip): what goes on is the decoded form.
  headers.delete('content-encoding');
  return held(headers, bytes);
};
