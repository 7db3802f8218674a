import type { BodySource } from '@apigate/core';
import { BodyLimit } from '@apigate/core/exchange';
import { GatewayError } from '@apigate/errors';

/**
 * A Web Request's body for routes that read it: reads the stream up to a limit (cancelling it
 * past the limit), or hands over what the host framework already parsed.
 */
export class WebBodySource implements BodySource {
  readonly #request: Request;
  readonly #parsed: { readonly value: unknown } | undefined;
  readonly #headers: Headers;
  #bytes: Uint8Array | undefined;
  #reading: Promise<Uint8Array> | undefined;
  /** True once the body was refused part-way; the rest was never read. */
  cut = false;

  /**
   * `headers` are the ones the gateway works on (the client's, less its hop-by-hop ones), so that
   * a Content-Type the client's `Connection` lists is gone for validation as it is upstream.
   */
  constructor(request: Request, parsed: { readonly value: unknown } | undefined, headers: Headers = request.headers) {
    this.#request = request;
    this.#parsed = parsed;
    this.#headers = headers;
  }

  get contentType(): string | undefined {
    return this.#headers.get('content-type') ?? undefined;
  }

  get contentLength(): number | undefined {
    const declared = this.#headers.get('content-length');
    return declared === null ? undefined : Number(declared);
  }

  get parsed(): { readonly value: unknown } | undefined {
    return this.#bytes === undefined && this.#request.bodyUsed ? (this.#parsed ?? { value: undefined }) : undefined;
  }

  /** The bytes read from the stream, once read. */
  get bytes(): Uint8Array | undefined {
    return this.#bytes;
  }

  read(limit: number): Promise<Uint8Array> {
    this.#reading ??= this.#read(limit);
    return this.#reading;
  }

  async #read(limit: number): Promise<Uint8Array> {
    const body = new BodyLimit(limit);
    const refused = body.declared(this.contentLength);
    if (refused !== undefined) {
      this.cut = true;
      throw refused;
    }
    const stream = this.#request.body;
    if (stream === null || this.#request.bodyUsed) return (this.#bytes = new Uint8Array(0));
    const reader = stream.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        const over = body.add(value);
        if (over !== undefined) {
          this.cut = true;
          await reader.cancel();
          throw over;
        }
      }
    } catch (error) {
      if (error instanceof GatewayError) throw error;
      throw new GatewayError('client_closed', { cause: error, details: { reason: 'the request body stream failed' } });
    }
    return (this.#bytes = body.bytes());
  }
}
