// Type tests, checked by `tsc -p tsconfig.json --noEmit`; nothing here runs.
import { expectTypeOf } from 'expect-type';
import { createGateway, get, service } from '@apigate/core';
import { NodeTransport, type NodeTransportLike, type UndiciTransport } from '@apigate/proxy/node';
import { expressFastLane, expressGateway } from '../src/index.ts';

const gateway = createGateway().mount(service({ prefix: '/api' }, [get('/x')]), ['http://127.0.0.1:1']).build();

// Given no transport, the adapter makes an UndiciTransport, and says so in its type.
expectTypeOf(expressGateway(gateway).transport).toEqualTypeOf<UndiciTransport>();
expectTypeOf(expressFastLane(() => undefined, gateway).transport).toEqualTypeOf<UndiciTransport>();

// A transport passed in comes back with its own type: its probes stay typed.
const reference = expressGateway(gateway, { transport: new NodeTransport(gateway.upstream) });
expectTypeOf(reference.transport).toEqualTypeOf<NodeTransport>();
expectTypeOf(reference.transport.httpAgent.maxFreeSockets).toEqualTypeOf<number>();

// Both transports answer the same probe.
expectTypeOf<NodeTransport['connections']>().toEqualTypeOf<NodeTransportLike['connections']>();
expectTypeOf<UndiciTransport['connections']>().toEqualTypeOf<NodeTransportLike['connections']>();

// @ts-expect-error: a transport is a NodeTransportLike, not any object
expressGateway(gateway, { transport: { forward: () => undefined } });
