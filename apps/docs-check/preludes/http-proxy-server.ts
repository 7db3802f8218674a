// The hand-written proxy server of docs/policies.md's "Outside the gateway" block, for the block
// after it: its backends, the http-proxy-3 server and node:http's createServer.
import type { Backend } from '@apigate/core';
import { createProxyServer } from 'http-proxy-3';

export { createServer } from 'node:http';
export declare const backends: Backend[];
export const proxy = createProxyServer({});
