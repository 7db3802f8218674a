import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { closeServer, listen } from './helpers.ts';

const MiB = 1024 * 1024;
const boundary = '----apigate-memory-boundary';
const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
const tail = Buffer.from(`\r\n--${boundary}--\r\n`);

interface Memory {
  /** Peak resident set size of the gateway process so far, in bytes. */
  readonly maxRss: number;
  readonly rss: number;
}

interface Received {
  readonly bytes: number;
  readonly hooked: string | undefined;
  readonly contentType: string | undefined;
  /** The last bytes of the body, to see that the closing boundary arrived. */
  readonly end: string;
}

/**
 * Starts the gateway in its own process so the RSS measured is the gateway's alone.
 * `--max-semi-space-size=1` keeps V8 from letting dead socket read buffers pile up in a large
 * young generation before a collection, which would measure V8's laziness, not what the gateway holds.
 */
const startGatewayProcess = async (origin: string): Promise<{ port: number; memory: () => Promise<Memory>; stop: () => Promise<void> }> => {
  const fixture = fileURLToPath(new URL('./fixtures/gateway-process.ts', import.meta.url));
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  const child: ChildProcess = fork(fixture, [origin], {
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

const fileChunk = Buffer.alloc(64 * 1024, 'apigate-');

interface Upload {
  readonly path: string;
  readonly contentType: string;
  readonly head: Buffer;
  readonly tail: Buffer;
}

const multipart: Upload = { path: '/uploads/files', contentType: `multipart/form-data; boundary=${boundary}`, head, tail };
/** A JSON string as long as the file: what the control route has to read whole. */
const jsonString: Upload = { path: '/uploads/json', contentType: 'application/json', head: Buffer.from('["'), tail: Buffer.from('"]') };

/** Streams an upload whose payload is `fileBytes` long, never holding it in memory. */
const upload = (port: number, fileBytes: number, { path, contentType, head, tail }: Upload = multipart): Promise<{ status: number; received: Received; total: number }> =>
  new Promise((resolve, reject) => {
    const total = head.byteLength + fileBytes + tail.byteLength;
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path, agent: false, headers: { 'content-type': contentType, 'content-length': total } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, received: JSON.parse(text) as Received, total }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.write(head);
    let sent = 0;
    const pump = (): void => {
      while (sent < fileBytes) {
        const piece = fileBytes - sent >= fileChunk.byteLength ? fileChunk : fileChunk.subarray(0, fileBytes - sent);
        sent += piece.byteLength;
        if (!req.write(piece)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end(tail);
    };
    pump();
  });

describe('memory of a multipart upload through a validated route', () => {
  const upstream = createServer((req, res) => {
    // Counts the bytes and keeps only the last few.
    let bytes = 0;
    let end = Buffer.alloc(0);
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.byteLength;
      end = Buffer.concat([end, chunk.subarray(-64)]).subarray(-64);
    });
    req.on('end', () => {
      const received: Received = { bytes, hooked: req.headers['x-hooked'] as string | undefined, contentType: req.headers['content-type'], end: end.toString('latin1') };
      res.end(JSON.stringify(received));
    });
  });
  let gateway: Awaited<ReturnType<typeof startGatewayProcess>>;

  beforeAll(async () => {
    const port = await listen(upstream);
    gateway = await startGatewayProcess(`http://127.0.0.1:${port}`);
  });

  afterAll(async () => {
    await gateway.stop();
    await closeServer(upstream);
  });

  it("streams a 512 MiB multipart upload with the gateway's peak RSS growing less than 64 MiB", async () => {
    const warm = await upload(gateway.port, 8 * MiB);
    expect(warm.received.bytes).toBe(warm.total);
    const before = await gateway.memory();
    const { status, received, total } = await upload(gateway.port, 512 * MiB);
    const after = await gateway.memory();
    expect(status).toBe(200);
    expect(received).toEqual({ bytes: total, hooked: 'yes', contentType: `multipart/form-data; boundary=${boundary}`, end: expect.stringMatching(new RegExp(`apigate-\\r\\n--${boundary}--\\r\\n$`)) });
    expect(after.maxRss - before.maxRss).toBeLessThan(64 * MiB);
  }, 180_000);

  it('sees the growth when a route reads a 128 MiB body (control for the measurement)', async () => {
    const before = await gateway.memory();
    const { status, received, total } = await upload(gateway.port, 128 * MiB, jsonString);
    const after = await gateway.memory();
    expect(status).toBe(200);
    expect(received.bytes).toBe(total);
    expect(after.maxRss - before.maxRss).toBeGreaterThan(128 * MiB);
  }, 180_000);
});
