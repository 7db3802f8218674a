// A Hono app and a gateway made earlier on the page, for excerpts that mount things on them.
import { Hono } from 'hono';
import type { Gateway } from '@apigate/core';

export { Hono };
export { honoGateway, honoMiddleware } from '@apigate/hono';
export const app = new Hono();
export declare const gateway: Gateway;
