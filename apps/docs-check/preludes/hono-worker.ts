// The worker of apps/examples/hono-worker around its gatewayFor excerpt: an app whose env has the
// UPSTREAM binding, and the service it mounts.
import { Hono, type MiddlewareHandler } from 'hono';
import type { Service } from '@apigate/core';

export { createGateway } from '@apigate/core';
export { honoGateway } from '@apigate/hono';
export type { MiddlewareHandler };
export const app = new Hono<{ Bindings: { UPSTREAM: string } }>();
export declare const api: Service;
