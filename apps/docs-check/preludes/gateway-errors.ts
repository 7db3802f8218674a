// The error handler that docs/express.md declares in the block before its use ("The parser's errors
// on gateway routes"); src/express-errors.test.ts runs that block itself.
import type { Gateway } from '@apigate/core';
import type { ErrorRequestHandler } from 'express';

export declare const gatewayErrors: (gateway: Gateway) => ErrorRequestHandler;
