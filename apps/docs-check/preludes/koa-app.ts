// A Koa app, its router and a gateway made earlier on the page, for excerpts that mount things on them.
import Koa from 'koa';
import Router from '@koa/router';
import type { Gateway } from '@apigate/core';

export { Koa, Router };
export { koaGateway, koaMiddleware, renderClientErrors } from '@apigate/koa';
export const app = new Koa();
export const router = new Router();
export declare const gateway: Gateway;
