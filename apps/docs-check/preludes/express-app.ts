// An Express app and a gateway made earlier on the page, for excerpts that mount things on it.
import express from 'express';
import type { Gateway } from '@apigate/core';

export { express };
export { expressGateway, expressMiddleware, expressFastLane, renderClientErrors } from '@apigate/express';
export const app: express.Express = express();
export declare const gateway: Gateway;
