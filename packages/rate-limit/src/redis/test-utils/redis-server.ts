import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort, eventually } from '@apigate/test-utils/http';
import { Redis } from 'ioredis';

/** A redis-server of this test's own, on 127.0.0.1 and a free port, with no persistence. */
export interface RedisServer {
  readonly port: number;
  /** A client for the test's own checks (INFO, SCRIPT FLUSH, CLIENT PAUSE). */
  readonly admin: Redis;
  /** SIGKILL: Redis gone at once, as in a crash. */
  kill(): Promise<void>;
  /** A fresh redis-server on the same port (empty: no data, no scripts). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const missing =
  'redis-server is not installed: the Redis store tests start a real one (DESIGN.md, "Real parts in tests"). ' +
  'Install it with `apt-get update && apt-get install -y redis-server` (.ci/run does so when it is missing).';

/** Fails with a clear message when redis-server is missing: these tests are never skipped silently. */
export const requireRedisServer = (env: NodeJS.ProcessEnv = process.env): void => {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8', env });
  if (probe.error !== undefined || probe.status !== 0) throw new Error(missing);
};

const exited = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((resolve) => child.once('exit', () => resolve()));

/** A client as the store should get one: commands fail at once while Redis is away. */
export const storeClient = async (port: number): Promise<Redis> => {
  const client = new Redis({ host: '127.0.0.1', port, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
  // While Redis is down, ioredis reports each failed reconnect as an 'error' event: expected here.
  client.on('error', () => undefined);
  if (client.status !== 'ready') await new Promise<void>((resolve) => client.once('ready', () => resolve()));
  return client;
};

export const startRedis = async (): Promise<RedisServer> => {
  requireRedisServer();
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    const started = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    child = started;
    await new Promise<void>((resolve, reject) => {
      started.once('spawn', () => resolve());
      started.once('error', reject);
    });
  };
  await launch();
  const admin = new Redis({ host: '127.0.0.1', port, retryStrategy: () => 50, maxRetriesPerRequest: null });
  admin.on('error', () => undefined);
  await eventually('redis-server answers PING', async () => (await admin.ping().catch(() => '')) === 'PONG');
  const kill = async (): Promise<void> => {
    if (child === undefined) return;
    const dying = child;
    child = undefined;
    dying.kill('SIGKILL');
    await exited(dying);
  };
  return {
    port,
    admin,
    kill,
    restart: async () => {
      await kill();
      await launch();
      await eventually('the restarted redis-server answers PING', async () => (await admin.ping().catch(() => '')) === 'PONG');
    },
    stop: async () => {
      admin.disconnect();
      await kill();
    },
  };
};

/** A gateway instance in a child process (./gateway-process.ts), sharing the test's Redis. */
export interface GatewayProcess {
  readonly port: number;
  /** What the process wrote on stderr (store failures, crashes). */
  readonly stderr: () => string;
  /** SIGKILL: the instance gone at once, as in a crash, releasing nothing. */
  kill(): Promise<void>;
}

export const startGatewayProcess = async (env: Record<string, string>): Promise<GatewayProcess> => {
  const script = fileURLToPath(new URL('gateway-process.ts', import.meta.url));
  const child = spawn(process.execPath, ['--conditions=@apigate/source', '--no-warnings', script], { env: { ...process.env, NODE_OPTIONS: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => void (err += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = /^(\{.*\})\n/m.exec(out);
      if (line) resolve((JSON.parse(line[1]!) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`the gateway process exited (${String(code)}) before it listened: ${err}`)));
  });
  return {
    port,
    stderr: () => err,
    kill: async () => {
      child.kill('SIGKILL');
      await exited(child);
    },
  };
};
