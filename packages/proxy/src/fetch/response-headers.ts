import type { ResponseHeaders } from '@apigate/core';

/** Web Headers as the response phase's view; edits land in the Headers the client gets. */
export class WebResponseHeaders implements ResponseHeaders {
  readonly #headers: Headers;

  constructor(headers: Headers) {
    this.#headers = headers;
  }

  get(name: string): string | undefined {
    return this.#headers.get(name) ?? undefined;
  }

  values(name: string): readonly string[] {
    if (name.toLowerCase() === 'set-cookie') return this.#headers.getSetCookie();
    const value = this.#headers.get(name);
    return value === null ? [] : [value];
  }

  has(name: string): boolean {
    return this.#headers.has(name);
  }

  set(name: string, value: string | readonly string[]): void {
    if (typeof value === 'string') {
      this.#headers.set(name, value);
      return;
    }
    this.#headers.delete(name);
    for (const one of value) this.#headers.append(name, one);
  }

  append(name: string, value: string): void {
    this.#headers.append(name, value);
  }

  delete(name: string): void {
    this.#headers.delete(name);
  }
}
