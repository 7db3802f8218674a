import { createGateway, get, post, service, type Gateway, type Middleware } from '@apigate/core';
import { origin, prefix } from './shared.ts';

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
