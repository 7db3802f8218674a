import { Agent, request, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually, startUpstream, type Upstream } from '@apigate/test-utils/http';
import { startGatewayProcess, startRedis, type GatewayProcess, type RedisServer } from './test-utils/redis-server.ts';

// Three gateway instances, each a process of its own (./test-utils/gateway-process.ts: Express, its
// own ioredis client), sharing one redis-server: the limits are global, not per instance.

let redis: RedisServer;
let upstream: Upstream;
const held: ServerResponse[] = [];

beforeAll(async () => {
  redis = await startRedis();
  upstream = await startUpstream((req, res) => {
    if (req.url === '/hold') held.push(res);
    else res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
  });
});

afterAll(async () => {
  for (const res of held.splice(0)) res.end();
  await upstream.close();
  await redis.stop();
});

const status = (agent: Agent | false, port: number, path: string, headers: Record<string, string> = {}): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });

describe('three gateway processes sharing one Redis', () => {
  it('hold a global token bucket within 1 % over 10 000 requests sent across them', async () => {
    // A burst of 3000 refilled once a day: however long the test takes, exactly 3000 may pass.
    const quota = 3_000;
    const total = 10_000;
    const gateways = await Promise.all([0, 1, 2].map(() => startGatewayProcess({ REDIS_PORT: String(redis.port), UPSTREAM: upstream.origin, QUOTA: String(quota) })));
    const agents = gateways.map(() => new Agent({ keepAlive: true, maxSockets: 8 }));
    try {
      const counts = new Map<number, number>();
      const perInstance = gateways.map(() => 0);
      let next = 0;
      // 24 requests in flight at a time, round robin over the three instances.
      const worker = async (): Promise<void> => {
        while (next < total) {
          const i = next++ % gateways.length;
          const got = await status(agents[i]!, gateways[i]!.port, '/api/ping', { 'x-user': 'everyone' });
          counts.set(got, (counts.get(got) ?? 0) + 1);
          if (got === 200) perInstance[i]!++;
        }
      };
      await Promise.all(Array.from({ length: 24 }, worker));
      const allowed = counts.get(200) ?? 0;
      expect({ statuses: [...counts.keys()].sort(), sent: [...counts.values()].reduce((a, b) => a + b, 0), storeFailures: gateways.map((g) => g.stderr()).join('') }).toEqual({ statuses: [200, 429], sent: total, storeFailures: '' });
      expect(Math.abs(allowed - quota)).toBeLessThanOrEqual(quota * 0.01);
      // Every instance admitted some: the limit was shared, not decided by one of them.
      expect(perInstance.every((n) => n > 0)).toBe(true);
    } finally {
      for (const agent of agents) agent.destroy();
      await Promise.all(gateways.map((g) => g.kill()));
    }
  }, 300_000);

  it('share a concurrency limit, and the places of an instance that crashed free once their leases expire', async () => {
    // Leases are renewed every third of their length: 10 s leaves a busy host's processes 6 s of
    // slack before a held place could lapse (500 ms lapsed under load once, letting a request in).
    const env = { REDIS_PORT: String(redis.port), UPSTREAM: upstream.origin, LEASE_MS: '10000' };
    const gateways: GatewayProcess[] = await Promise.all([0, 1, 2].map(() => startGatewayProcess(env)));
    const [crashing, other, third] = gateways as [GatewayProcess, GatewayProcess, GatewayProcess];
    try {
      const pending = [status(false, crashing.port, '/slots/hold').catch(() => 0), status(false, crashing.port, '/slots/hold').catch(() => 0)];
      await eventually('the upstream holds both requests', () => held.length === 2);
      expect([await status(false, other.port, '/slots/fast'), await status(false, third.port, '/slots/fast')]).toEqual([429, 429]);
      // SIGKILL: the instance gives nothing back; its leases run out and the places come back.
      await crashing.kill();
      await Promise.all(pending);
      // Up to a minute of asking: the 10 s leases must run out first.
      await eventually('the crashed instance’s places are free', async () => (await status(false, other.port, '/slots/fast')) === 200, 6_000);
      expect(await status(false, third.port, '/slots/fast')).toBe(200);
    } finally {
      for (const res of held.splice(0)) res.end();
      await Promise.all(gateways.map((g) => g.kill()));
    }
  }, 120_000);
});
