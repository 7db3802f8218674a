import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHeaders } from '@apigate/core';

/** The hook-facing view of a Node request's headers; edits land in `req.headers` itself. */
export class NodeRequestHeaders implements RequestHeaders {
  readonly #headers: IncomingHttpHeaders;

  constructor(headers: IncomingHttpHeaders) {
    this.#headers = headers;
  }

  get(name: string): string | undefined {
    const value = this.#headers[name.toLowerCase()];
    return Array.isArray(value) ? value.join(', ') : value;
  }

  has(name: string): boolean {
    return this.#headers[name.toLowerCase()] !== undefined;
  }

  set(name: string, value: string): void {
    this.#headers[name.toLowerCase()] = value;
  }

  delete(name: string): void {
    delete this.#headers[name.toLowerCase()];
  }
}
