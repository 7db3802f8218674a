import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '@apigate/core';
import { nodeHandler, type NodeRequest, type NodeTransport } from '@apigate/proxy/node';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import type { MiddlewareHandler } from 'hono';
import { honoGateway as fetchGateway, parsedBodyOf, type HonoGatewayOptions } from '../index.ts';

export interface NodeHonoGatewayOptions extends Omit<HonoGatewayOptions, 'transport'> {
  /** A Node transport to share between mounts; by default one is made from the gateway's upstream config. */
  transport?: NodeTransport;
}

type NodeBindings = { incoming?: IncomingMessage; outgoing?: ServerResponse };

/**
 * Hono middleware for @hono/node-server: gateway routes are served from the raw Node request and
 * response (`c.env.incoming`/`outgoing`) by the Node transport, with no Web Request or Response
 * made for them. Without those bindings (e.g. `app.request()` in a test) it uses the fetch transport.
 * @example
 * const app = new Hono<{ Bindings: HttpBindings }>()
 * app.use(honoGateway(gateway))
 * serve({ fetch: app.fetch, port: 8080 })
 */
export const honoGateway = (gateway: Gateway, { transport, ...options }: NodeHonoGatewayOptions = {}): MiddlewareHandler & { readonly transport: NodeTransport } => {
  const handler = nodeHandler(gateway, transport);
  const fallback = fetchGateway(gateway, options);
  const middleware: MiddlewareHandler = async function apigate(c, next) {
    const { incoming, outgoing } = (c.env ?? {}) as NodeBindings;
    if (incoming === undefined || outgoing === undefined) return fallback(c, next);
    const req = incoming as NodeRequest;
    if (req.body === undefined && c.req.raw.bodyUsed) req.body = (await parsedBodyOf(c))?.value;
    let passed = false;
    handler(req, outgoing, () => {
      passed = true;
    });
    if (passed) return next();
    // The bridge writes the response on `outgoing` itself; @hono/node-server must not.
    return RESPONSE_ALREADY_SENT;
  };
  return Object.assign(middleware, { transport: handler.transport });
};
