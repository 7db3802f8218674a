import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { ResponseHeaders, StandaloneRequest } from '@apigate/core';
import { peerAddress } from './hygiene.ts';
import { NodeRequestHeaders } from './request-headers.ts';

/** A Node request as a hook run outside a gateway sees it; the adapter says where scope lives. */
export const standaloneRequest = (req: IncomingMessage, scope: Record<PropertyKey, unknown>, state?: object): StandaloneRequest => ({
  method: req.method ?? 'GET',
  url: req.url ?? '/',
  headers: new NodeRequestHeaders(req.headers),
  clientIp: peerAddress(req),
  scope: {
    get: (key) => scope[key],
    set: (key, value) => {
      scope[key] = value;
    },
  },
  state,
});

/** A Node response's headers as the response phase's view, before they are written. */
class ServerResponseHeaders implements ResponseHeaders {
  readonly #res: ServerResponse;

  constructor(res: ServerResponse) {
    this.#res = res;
  }

  get(name: string): string | undefined {
    const value = this.#res.getHeader(name);
    if (value === undefined) return undefined;
    return Array.isArray(value) ? value.join(', ') : String(value);
  }

  values(name: string): readonly string[] {
    const value = this.#res.getHeader(name);
    if (value === undefined) return [];
    return Array.isArray(value) ? value : [String(value)];
  }

  has(name: string): boolean {
    return this.#res.hasHeader(name);
  }

  set(name: string, value: string | readonly string[]): void {
    this.#res.setHeader(name, typeof value === 'string' ? value : [...value]);
  }

  append(name: string, value: string): void {
    const existing = this.values(name);
    this.set(name, existing.length === 0 ? value : [...existing, value]);
  }

  delete(name: string): void {
    this.#res.removeHeader(name);
  }
}

export interface ResponseWatch {
  /** Just before the head is written: the phase may still change the headers. */
  readonly head?: (status: number, headers: ResponseHeaders) => void;
  /** Once, when the response ended: its status if it was sent whole, undefined if it was cut. */
  readonly end?: (status: number | undefined) => void;
}

/**
 * Lets a standalone middleware's response and settle phases see a Node response that someone else
 * writes (the app's route, Express, Koa, the gateway): `writeHead` is wrapped once — Node calls it
 * for implicit heads too — and restored on its first call.
 */
export const watchResponse = (res: ServerResponse, { head, end }: ResponseWatch): void => {
  if (head !== undefined) {
    const writeHead = res.writeHead;
    res.writeHead = function writeHeadWatched(this: ServerResponse, status: number, ...rest: unknown[]) {
      res.writeHead = writeHead;
      const reason = typeof rest[0] === 'string' ? rest[0] : undefined;
      const given = (reason === undefined ? rest[0] : rest[1]) as OutgoingHttpHeaders | readonly string[] | undefined;
      // Headers handed to writeHead join those set before, so that the phase sees them all.
      if (Array.isArray(given)) for (let i = 0; i + 1 < given.length; i += 2) res.setHeader(given[i] as string, given[i + 1] as string);
      else if (given !== undefined) for (const [name, value] of Object.entries(given)) if (value !== undefined) res.setHeader(name, value);
      head(status, new ServerResponseHeaders(res));
      const write = writeHead as (this: ServerResponse, status: number, reason?: string) => ServerResponse;
      return reason === undefined ? write.call(this, status) : write.call(this, status, reason);
    } as ServerResponse['writeHead'];
  }
  if (end !== undefined) res.once('close', () => end(res.writableFinished ? res.statusCode : undefined));
};
