import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { closeServer, listen } from '@apigate/test-utils/http';

export * from '@apigate/test-utils/http';

export interface HonoServer {
  readonly server: Server;
  readonly port: number;
  readonly origin: string;
  readonly close: () => Promise<void>;
}

/** Serves a Hono app's fetch on a real @hono/node-server on 127.0.0.1, port 0. */
export const serveHono = async (fetch: (request: Request, env: never) => unknown, onClose?: () => void): Promise<HonoServer> => {
  const server = createAdaptorServer({ fetch: fetch as never }) as Server;
  const port = await listen(server);
  return {
    server,
    port,
    origin: `http://127.0.0.1:${port}`,
    close: async () => {
      await closeServer(server);
      onClose?.();
    },
  };
};
