import type { Gateway } from '@apigate/core';
import { nodeHandler, renderClientErrors, type NodeHandler, type NodeTransport } from '@apigate/proxy/node';
import type { RequestHandler } from 'express';

export interface ExpressGatewayOptions {
  /** A transport to share between mounts; by default one is made from the gateway's upstream config. */
  transport?: NodeTransport;
}

/**
 * Express middleware serving the gateway's routes beside the app's own: requests that match no
 * gateway route go on to the next handler untouched.
 * @example
 * const app = express()
 * app.use(express.json())
 * app.use(expressGateway(gateway))
 * app.get('/health', (_req, res) => res.send('ok'))
 */
export const expressGateway = (gateway: Gateway, { transport }: ExpressGatewayOptions = {}): RequestHandler & Pick<NodeHandler, 'transport'> =>
  nodeHandler(gateway, transport) as unknown as RequestHandler & Pick<NodeHandler, 'transport'>;

export { renderClientErrors };
