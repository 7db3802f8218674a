// One app of each framework, for excerpts that show a middleware on all three.
import express from 'express';
import Koa from 'koa';
import { Hono } from 'hono';

export { expressMiddleware } from '@apigate/express';
export { koaMiddleware } from '@apigate/koa';
export { honoMiddleware } from '@apigate/hono';
export const expressApp: express.Express = express();
export const koaApp = new Koa();
export const honoApp = new Hono();
