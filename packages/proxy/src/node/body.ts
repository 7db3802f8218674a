import type { IncomingMessage } from 'node:http';
import type { BodySource } from '@apigate/core';
import { BodyLimit } from '@apigate/core/exchange';
import { GatewayError } from '@apigate/errors';

type ParsedRequest = IncomingMessage & { body?: unknown };

/**
 * A Node request's body for routes that read it: reads the stream up to a limit, or hands over
 * what a body parser in front of the gateway already made of it.
 */
export class NodeBodySource implements BodySource {
  readonly #req: ParsedRequest;
  #bytes: Uint8Array | undefined;
  #reading: Promise<Uint8Array> | undefined;
  /** True once the body was refused part-way: the rest stays unread, the connection must close. */
  cut = false;

  constructor(req: ParsedRequest) {
    this.#req = req;
  }

  get contentType(): string | undefined {
    return this.#req.headers['content-type'];
  }

  get contentLength(): number | undefined {
    const declared = this.#req.headers['content-length'];
    return declared === undefined ? undefined : Number(declared);
  }

  get parsed(): { readonly value: unknown } | undefined {
    return this.#bytes === undefined && this.#req.readableEnded ? { value: this.#req.body } : undefined;
  }

  /** The bytes read from the stream, once read. */
  get bytes(): Uint8Array | undefined {
    return this.#bytes;
  }

  read(limit: number): Promise<Uint8Array> {
    this.#reading ??= this.#read(limit);
    return this.#reading;
  }

  #read(limit: number): Promise<Uint8Array> {
    const req = this.#req;
    const body = new BodyLimit(limit);
    const refused = body.declared(this.contentLength);
    if (refused !== undefined) {
      this.cut = true;
      return Promise.reject(refused);
    }
    if (req.readableEnded) return Promise.resolve((this.#bytes = new Uint8Array(0)));
    return new Promise((resolve, reject) => {
      const done = (): void => {
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('error', onError);
        req.off('close', onClose);
      };
      const onData = (chunk: Buffer): void => {
        const over = body.add(chunk);
        if (over !== undefined) {
          done();
          req.pause();
          this.cut = true;
          reject(over);
        }
      };
      const onEnd = (): void => {
        done();
        resolve((this.#bytes = body.bytes()));
      };
      const onError = (error: Error): void => {
        done();
        reject(new GatewayError('client_closed', { cause: error }));
      };
      const onClose = (): void => {
        if (req.readableEnded) return;
        done();
        reject(new GatewayError('client_closed', { details: { reason: 'the client closed the connection while sending the body' } }));
      };
      req.on('data', onData);
      req.on('end', onEnd);
      req.on('error', onError);
      req.on('close', onClose);
    });
  }
}
