import { createGateway, get, post, service, type Gateway, type Middleware } from '@apigate/core';
import { NodeTransport } from '@apigate/proxy/node';
import { origin, prefix } from './shared.ts';

/**
 * An adapter's options that put it on NodeTransport (http-proxy-3), the reference transport. Every
 * apigate contestant on Node whose id does not end in `-undici` runs on it, as it did while it was
 * the default; the `-undici` ones run on UndiciTransport, the default since 2026-12-04.
 */
export const onNodeTransport = (gateway: Gateway): { transport: NodeTransport } => ({ transport: new NodeTransport(gateway.upstream) });

/** The passthrough gateway every apigate adapter contestant mounts: three fixed routes, no hooks. */
export const passthroughGateway = (use: readonly Middleware[] = []): Gateway =>
  createGateway({ use })
    .mount(service({ name: 'origin', prefix }, [get('/tiny'), get('/64k'), post('/upload'), post('/orders')]), [origin])
    .build();

/**
 * A request phase that does nothing: what the lifecycle itself costs a route once any middleware
 * with a request phase is attached at gateway level (the request context, the async pipeline).
 */
export const noop: Middleware = { name: 'noop', request: () => undefined };
