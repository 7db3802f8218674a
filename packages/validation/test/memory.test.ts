import { createServer, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MiB, startGatewayProcess, type GatewayProcess } from '@apigate/test-utils/memory';
import { closeServer, listen } from './helpers.ts';

const fixture = fileURLToPath(new URL('./fixtures/gateway-process.ts', import.meta.url));
const boundary = '----apigate-memory-boundary';
const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
const tail = Buffer.from(`\r\n--${boundary}--\r\n`);

interface Received {
  readonly bytes: number;
  readonly hooked: string | undefined;
  readonly contentType: string | undefined;
  /** The last bytes of the body, to see that the closing boundary arrived. */
  readonly end: string;
}

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
  // Node's default keep-alive (5 s): the control case reads 128 MiB before forwarding, long enough
  // for the pooled connection to go stale, which the gateway must replay.
  let gateway: GatewayProcess;

  beforeAll(async () => {
    const port = await listen(upstream);
    gateway = await startGatewayProcess(fixture, [`http://127.0.0.1:${port}`]);
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
