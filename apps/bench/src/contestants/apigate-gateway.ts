import { createGateway, get, post, service, type Gateway } from '@apigate/core';
import { origin, prefix } from './shared.ts';

/** The passthrough gateway every apigate adapter contestant mounts: three fixed routes, no hooks. */
export const passthroughGateway = (): Gateway =>
  createGateway()
    .mount(service({ name: 'origin', prefix }, [get('/tiny'), get('/64k'), post('/upload'), post('/orders')]), [origin])
    .build();
