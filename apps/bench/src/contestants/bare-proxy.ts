import type { IncomingMessage, ServerResponse } from 'node:http';
import { createProxyServer } from 'http-proxy-3';
import { badGateway, keepAliveAgent, origin } from './shared.ts';

/**
 * Bare http-proxy-3 as its README shows it, plus the keep-alive agent it needs to pool: what the
 * framework references hand the raw Node request to.
 */
export const bareProxy = (): ((req: IncomingMessage, res: ServerResponse) => void) => {
  const proxy = createProxyServer({ target: origin, agent: keepAliveAgent() });
  return (req, res) => {
    proxy.web(req, res, {}, () => badGateway(res));
  };
};
