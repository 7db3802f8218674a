// bare http-proxy-3 in node:http: strip the prefix, forward.
import { createServer } from 'node:http';
import { bareProxy } from './bare-proxy.ts';
import { listen, underPrefix } from './shared.ts';

listen(createServer(underPrefix(bareProxy())));
