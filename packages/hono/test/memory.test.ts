import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { MiB, peakGrowth, startCountingUpstream, startGatewayProcess, type GatewayProcess } from '@apigate/test-utils/memory';
import type { Upstream } from './helpers.ts';

const fixture = fileURLToPath(new URL('./fixtures/gateway-process.ts', import.meta.url));

describe('hono adapter on @hono/node-server: memory of a streamed upload', () => {
  let upstream: Upstream;
  let gateway: GatewayProcess | undefined;

  beforeAll(async () => {
    // Counts the bytes and keeps none of them.
    upstream = await startCountingUpstream();
  });

  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  afterAll(async () => {
    await upstream.close();
  });

  it("streams a 256 MiB upload through a passthrough route with the gateway's peak RSS growing less than 64 MiB", async () => {
    gateway = await startGatewayProcess(fixture, [upstream.origin, 'stream']);
    expect(await peakGrowth(gateway, '/sales/upload', 256 * MiB)).toBeLessThan(64 * MiB);
  }, 180_000);

  it('sees the growth when a handler reads the upload with c.req.arrayBuffer() first (control for the measurement)', async () => {
    gateway = await startGatewayProcess(fixture, [upstream.origin, 'buffer']);
    expect(await peakGrowth(gateway, '/sales/upload', 128 * MiB)).toBeGreaterThan(128 * MiB);
  }, 180_000);
});
