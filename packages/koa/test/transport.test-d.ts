// Type tests, checked by `tsc -p tsconfig.json --noEmit`; nothing here runs.
import { expectTypeOf } from 'expect-type';
import { createGateway, get, service } from '@apigate/core';
import { NodeTransport, type UndiciTransport } from '@apigate/proxy/node';
import { koaGateway } from '../src/index.ts';

const gateway = createGateway().mount(service({ prefix: '/api' }, [get('/x')]), ['http://127.0.0.1:1']).build();

// Given no transport, the adapter makes an UndiciTransport; a transport passed in keeps its type.
expectTypeOf(koaGateway(gateway).transport).toEqualTypeOf<UndiciTransport>();
expectTypeOf(koaGateway(gateway, { transport: new NodeTransport(gateway.upstream) }).transport).toEqualTypeOf<NodeTransport>();
