import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { expect } from '@jest/globals';
import { startUpstream, streamUpload, type Upstream } from './http.ts';

export const MiB = 1024 * 1024;

export interface Memory {
  /** Peak resident set size of the gateway process so far, in bytes. */
  readonly maxRss: number;
  readonly rss: number;
}

export interface GatewayProcess {
  readonly port: number;
  readonly memory: () => Promise<Memory>;
  /**
   * Resets the process's peak RSS (VmHWM) to its current RSS (Linux `clear_refs` 5), for fixtures
   * that answer 'reset-peak': a peak left by start-up or a warm-up then cannot hide growth.
   */
  readonly resetPeak: () => Promise<void>;
  readonly stop: () => Promise<void>;
}

/**
 * Starts a gateway fixture in its own process, so the RSS measured is the gateway's alone. The
 * fixture sends `{ port }` when listening, answers 'memory' with its Memory and exits on 'exit'.
 *
 * `--max-semi-space-size=1` keeps V8's young generation small. Node allocates a fresh buffer for
 * every socket read and V8 frees those only when it collects garbage; with the default young
 * generation a plain `req.pipe(http.request())` proxy lets 60-65 MiB of already-dead read buffers
 * pile up before a collection, which would measure V8's laziness instead of what the gateway
 * holds. The flag does not hide buffering: each suite's control case still grows by the body size.
 */
export const startGatewayProcess = async (fixture: string, args: readonly string[]): Promise<GatewayProcess> => {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child: ChildProcess = fork(fixture, [...args], {
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
    resetPeak: async () => {
      const answer = once(child, 'message');
      child.send('reset-peak');
      await answer;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.send('exit');
      await exited;
    },
  };
};

/**
 * An upstream that counts the bytes it receives, keeps none, and answers `{ bytes }`. It keeps
 * Node's default keep-alive (5 s), shorter than a control case takes to read its body before
 * forwarding it: the gateway has to retire the pooled connection in time or, when it meets the
 * upstream closing it, replay the body it holds (DESIGN.md rule 2).
 */
export const startCountingUpstream = (): Promise<Upstream> =>
  startUpstream((req, res) => {
    let bytes = 0;
    req.on('data', (data: Buffer) => (bytes += data.byteLength));
    req.on('end', () => res.end(JSON.stringify({ bytes })));
  });

/** Peak RSS growth of the gateway process over one upload to `path`, after a warm-up upload. */
export const peakGrowth = async (gateway: GatewayProcess, path: string, total: number): Promise<number> => {
  const warm = await streamUpload(gateway.port, path, 8 * MiB);
  expect(warm.json()).toEqual({ bytes: 8 * MiB });
  const before = await gateway.memory();
  const reply = await streamUpload(gateway.port, path, total);
  expect(reply.status).toBe(200);
  expect(reply.json()).toEqual({ bytes: total });
  const after = await gateway.memory();
  return after.maxRss - before.maxRss;
};
