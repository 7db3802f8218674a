// http-proxy-3 configured well through its public API: the target preset as an object (a string
// target is parsed into a URL on every request), no path joining, the keep-alive agent.
import { createServer } from 'node:http';
import { createProxyServer } from 'http-proxy-3';
import { badGateway, keepAliveAgent, listen, origin, underPrefix } from './shared.ts';

const url = new URL(origin);
const target = { protocol: url.protocol, host: url.hostname, hostname: url.hostname, port: Number(url.port) };
const proxy = createProxyServer({ target, agent: keepAliveAgent(), prependPath: false });

listen(createServer(underPrefix((req, res) => proxy.web(req, res, {}, () => badGateway(res)))));
