import type { IncomingMessage } from 'node:http';
import type { StandaloneRequest } from '@apigate/core';
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
