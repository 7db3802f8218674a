import { GatewayError } from '@apigate/errors';

const tooLarge = (limit: number, details: Record<string, unknown>): GatewayError =>
  new GatewayError('payload_too_large', { message: `The request body is larger than ${limit} bytes.`, details: { limit, ...details } });

/**
 * A route's body limit as every body source applies it (DESIGN.md rule 3): a declared
 * Content-Length over the limit is refused before one byte is read; a body without one is counted
 * as it arrives and refused the moment it passes the limit. The chunks are kept for `bytes()`.
 */
export class BodyLimit {
  readonly limit: number;
  readonly #chunks: Uint8Array[] = [];
  #size = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  /** The refusal of a declared length over the limit; undefined to go on reading. */
  declared(length: number | undefined): GatewayError | undefined {
    return length !== undefined && length > this.limit ? tooLarge(this.limit, { declared: length }) : undefined;
  }

  /** Takes one chunk; the refusal once the body passed the limit (the chunk is then not kept). */
  add(chunk: Uint8Array): GatewayError | undefined {
    this.#size += chunk.byteLength;
    if (this.#size > this.limit) return tooLarge(this.limit, { received: this.#size });
    this.#chunks.push(chunk);
    return undefined;
  }

  /** The body read so far, in one piece (the one chunk itself when there was one). */
  bytes(): Uint8Array {
    if (this.#chunks.length === 1) return this.#chunks[0]!;
    const bytes = new Uint8Array(this.#size);
    let at = 0;
    for (const chunk of this.#chunks) {
      bytes.set(chunk, at);
      at += chunk.byteLength;
    }
    return bytes;
  }
}
