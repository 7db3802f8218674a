import { createServer } from 'node:http';
import type { Gateway } from '@apigate/core';
import { closeServer, listen } from '@apigate/test-utils/http';
import { nodeHandler, type NodeHandler, type NodeTransportLike } from '../bridge.ts';
import { NodeTransport } from '../transport.ts';

/** A gateway served by the Node bridge on a plain Node server (loopback, port 0); other paths get 404. */
export interface Served {
  readonly port: number;
  readonly handler: NodeHandler<NodeTransportLike>;
  /** Stops the server, then the gateway (which closes the transport it made), or the NodeTransport passed. */
  close(): Promise<void>;
}

/** The bridge's own transport (UndiciTransport, the default), or NodeTransport, the reference. */
export type TransportName = 'undici' | 'node';

export const serveGateway = async (gateway: Gateway, transport: TransportName = 'undici'): Promise<Served> => {
  const reference = transport === 'node' ? new NodeTransport(gateway.upstream) : undefined;
  const handler = nodeHandler<NodeTransportLike>(gateway, reference);
  const server = createServer((req, res) => handler(req, res, () => res.writeHead(404).end()));
  const port = await listen(server);
  return {
    port,
    handler,
    close: async () => {
      await closeServer(server);
      await gateway.close();
      reference?.close();
    },
  };
};
