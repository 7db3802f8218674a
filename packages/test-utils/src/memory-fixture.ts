import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The fixture side of `startGatewayProcess` (./memory): listens on a loopback port and sends
 * `{ port }`, answers 'memory' with `{ maxRss, rss }` in bytes, and on 'exit' closes the server
 * and the transport's pools, then exits. No jest here: it runs in the forked process.
 */
export const serveGatewayProcess = (server: Server, transport: { close(): void }): void => {
  const send = process.send?.bind(process);
  if (send === undefined) throw new Error('start this fixture with startGatewayProcess() (a fork with IPC)');
  server.listen(0, '127.0.0.1', () => send({ port: (server.address() as AddressInfo).port }));
  process.on('message', (message) => {
    if (message === 'memory') {
      send({ maxRss: process.resourceUsage().maxRSS * 1024, rss: process.memoryUsage.rss() });
    } else if (message === 'exit') {
      server.close(() => process.exit(0));
      server.closeAllConnections();
      transport.close();
    }
  });
};
