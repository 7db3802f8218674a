import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { startUpstream, streamUpload, type Upstream } from './helpers.ts';

const MiB = 1024 * 1024;

interface Memory {
  /** Peak resident set size of the gateway process so far, in bytes. */
  readonly maxRss: number;
  readonly rss: number;
}

interface GatewayProcess {
  readonly port: number;
  readonly memory: () => Promise<Memory>;
  readonly stop: () => Promise<void>;
}

/**
 * Starts the Hono gateway on @hono/node-server in its own process, so the RSS measured is the
 * gateway's alone. `--max-semi-space-size=1` keeps V8 from letting dead socket read buffers pile
 * up before a collection (see packages/express/test/memory.test.ts); the control case shows the
 * flag does not hide buffering.
 */
const startGatewayProcess = async (origin: string, mode: 'stream' | 'buffer'): Promise<GatewayProcess> => {
  const fixture = fileURLToPath(new URL('./fixtures/gateway-process.ts', import.meta.url));
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child: ChildProcess = fork(fixture, [origin, mode], {
    execPath: process.execPath,
    execArgv: ['--conditions=@apigate/source', '--no-warnings', '--max-semi-space-size=1'],
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const [ready] = (await once(child, 'message')) as [{ port: number }];
  return {
    port: ready.port,
    memory: async () => {
      const answer = once(child, 'message') as Promise<[Memory]>;
      child.send('memory');
      return (await answer)[0];
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.send('exit');
      await exited;
    },
  };
};

/** Peak RSS growth of the gateway process over one upload, after a warm-up upload. */
const peakGrowth = async (gateway: GatewayProcess, total: number): Promise<number> => {
  const warm = await streamUpload(gateway.port, '/sales/upload', 8 * MiB);
  expect(warm.json()).toEqual({ bytes: 8 * MiB });
  const before = await gateway.memory();
  const reply = await streamUpload(gateway.port, '/sales/upload', total);
  expect(reply.status).toBe(200);
  expect(reply.json()).toEqual({ bytes: total });
  const after = await gateway.memory();
  return after.maxRss - before.maxRss;
};

describe('hono adapter on @hono/node-server: memory of a streamed upload', () => {
  let upstream: Upstream;
  let gateway: GatewayProcess | undefined;

  beforeAll(async () => {
    // Counts the bytes and keeps none of them.
    upstream = await startUpstream((req, res) => {
      let bytes = 0;
      req.on('data', (data: Buffer) => (bytes += data.byteLength));
      req.on('end', () => res.end(JSON.stringify({ bytes })));
    });
  });

  afterEach(async () => {
    await gateway?.stop();
    gateway = undefined;
  });

  afterAll(async () => {
    await upstream.close();
  });

  it("streams a 256 MiB upload through a passthrough route with the gateway's peak RSS growing less than 64 MiB", async () => {
    gateway = await startGatewayProcess(upstream.origin, 'stream');
    expect(await peakGrowth(gateway, 256 * MiB)).toBeLessThan(64 * MiB);
  });

  it('sees the growth when a handler reads the upload with c.req.arrayBuffer() first (control for the measurement)', async () => {
    gateway = await startGatewayProcess(upstream.origin, 'buffer');
    expect(await peakGrowth(gateway, 128 * MiB)).toBeGreaterThan(128 * MiB);
  });
});
