// fast-gateway 3 (restana + fast-proxy-lite), its README setup.
import gateway from 'fast-gateway';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { announce, origin, prefix } from './shared.ts';

const service = gateway({ routes: [{ prefix, target: origin }] });
const server = (await service.start(0, '127.0.0.1')) as Server;
announce((server.address() as AddressInfo).port);
