import { createServer } from 'node:http';
import type { Gateway } from '@apigate/core';
import { closeServer, listen } from '@apigate/test-utils/http';
import { nodeHandler, type NodeHandler } from '../bridge.ts';

/** A gateway served by the Node bridge on a plain Node server (loopback, port 0); other paths get 404. */
export interface Served {
  readonly port: number;
  readonly handler: NodeHandler;
  /** Stops the server, then the gateway (which closes the transport it made). */
  close(): Promise<void>;
}

export const serveGateway = async (gateway: Gateway): Promise<Served> => {
  const handler = nodeHandler(gateway);
  const server = createServer((req, res) => handler(req, res, () => res.writeHead(404).end()));
  const port = await listen(server);
  return {
    port,
    handler,
    close: async () => {
      await closeServer(server);
      await gateway.close();
    },
  };
};
