import type { OutgoingHttpHeaders } from 'node:http';
import type { ResponseHeaders } from '@apigate/core';

/**
 * The upstream response's cleaned headers (lower-case names) as the response phase's view; edits
 * land in the object the transport then writes.
 */
export class NodeResponseHeaders implements ResponseHeaders {
  readonly #headers: OutgoingHttpHeaders;

  constructor(headers: OutgoingHttpHeaders) {
    this.#headers = headers;
  }

  get(name: string): string | undefined {
    const value = this.#headers[name.toLowerCase()];
    if (value === undefined) return undefined;
    return Array.isArray(value) ? value.join(', ') : String(value);
  }

  values(name: string): readonly string[] {
    const value = this.#headers[name.toLowerCase()];
    if (value === undefined) return [];
    return Array.isArray(value) ? value : [String(value)];
  }

  has(name: string): boolean {
    return this.#headers[name.toLowerCase()] !== undefined;
  }

  set(name: string, value: string | readonly string[]): void {
    this.#headers[name.toLowerCase()] = typeof value === 'string' ? value : [...value];
  }

  append(name: string, value: string): void {
    const existing = this.values(name);
    this.set(name, existing.length === 0 ? value : [...existing, value]);
  }

  delete(name: string): void {
    delete this.#headers[name.toLowerCase()];
  }
}
