// apigate on express 5 with jwt() at gateway level: RS256 against a remote JWKS, cached. The key
// set is served by a small server of this process on loopback (the harness hands it the public
// key in BENCH_JWKS), so the measured cost is verification, not the IdP.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jwt } from '@apigate/auth';
import { expressGateway } from '@apigate/express';
import express from 'express';
import { benchAudience, benchIssuer } from '../bench-jwt.ts';
import { onNodeTransport, passthroughGateway } from './apigate-gateway.ts';
import { listen } from './shared.ts';

const jwks = process.env.BENCH_JWKS;
if (jwks === undefined || jwks === '') throw new Error('BENCH_JWKS is not set: contestants are started by src/main.ts');
const idp = createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(jwks);
});
await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));

const gateway = passthroughGateway([jwt({ jwks: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks.json`, issuer: benchIssuer, audience: benchAudience, algorithms: ['RS256'] })]);
// The key set is fetched before the first request is taken, as in production.
await gateway.ready();
const app = express();
app.disable('x-powered-by');
app.use(expressGateway(gateway, onNodeTransport(gateway)));
listen(createServer(app));
