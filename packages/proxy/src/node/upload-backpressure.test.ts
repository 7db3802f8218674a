import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createGateway, post, service } from '@apigate/core';
import { closeServer, eventually, listen } from '@apigate/test-utils/http';
import { serveGateway, type Served } from './test-utils/serve.ts';

const MiB = 1024 * 1024;
const chunk = Buffer.alloc(64 * 1024, 'upload/');

/**
 * What may sit between the client and an upstream that reads nothing: the kernel's buffers of
 * both loopback connections (a few MiB each at most with Linux's default tcp_rmem/tcp_wmem) and
 * the streams' highWaterMarks in the gateway (tens of KiB). A gateway that queued what the
 * client sends while the upstream is not taking it would let all of the upload in.
 */
const inFlightBound = 32 * MiB;
const total = 256 * MiB;

/** A chunked upload that writes only when its request asks for more, and counts what it handed over. */
const upload = (port: number, path: string) => {
  let sent = 0;
  let waiting = false;
  let drains = 0;
  const reply = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (text: string) => (body += text));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    const pump = (): void => {
      waiting = false;
      while (sent < total) {
        sent += chunk.byteLength;
        if (!req.write(chunk)) {
          waiting = true;
          req.once('drain', () => {
            drains++;
            pump();
          });
          return;
        }
      }
      req.end();
    };
    pump();
  });
  return { reply, sent: () => sent, waiting: () => waiting, drains: () => drains };
};

describe.each(['undici', 'node'] as const)('the %s transport: a streamed upload to an upstream that stops reading', (transport) => {
  let upstream: Server;
  let served: Served;
  /** The upstream's request, paused: it takes no bytes until the test resumes it. */
  let held: IncomingMessage | undefined;
  let received = 0;

  beforeAll(async () => {
    upstream = createServer((req, res) => {
      req.pause();
      held = req;
      req.on('data', (bytes: Buffer) => (received += bytes.byteLength));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ bytes: received }));
      });
    });
    const upstreamPort = await listen(upstream);
    // The upstream's silence is what the gateway waits on here: long limits, so that only the
    // test decides when the upload goes on, however busy the machine.
    const gateway = createGateway({ upstream: { requestTimeout: 600_000, clientTimeout: 600_000 } })
      .mount(service({ name: 'api', prefix: '/api' }, [post('/upload')]), [`http://127.0.0.1:${upstreamPort}`])
      .build();
    served = await serveGateway(gateway, transport);
  });

  afterAll(async () => {
    await served.close();
    await closeServer(upstream);
  });

  it('lets no more than the buffers between them in flight, then delivers the whole upload once it reads again', async () => {
    const client = upload(served.port, '/api/upload');
    await eventually('the upstream has the request', () => held !== undefined);
    // Stuck: the client waits for a 'drain' that does not come over a quiet spell, every buffer
    // on the way being full. A bounded wait for a state, not a measurement of time.
    let stuck = false;
    for (let attempt = 0; attempt < 200 && !stuck; attempt++) {
      if (!client.waiting()) {
        await sleep(10);
        continue;
      }
      const drains = client.drains();
      await sleep(200);
      stuck = client.waiting() && client.drains() === drains;
    }
    expect(stuck).toBe(true);
    expect(received).toBe(0);
    expect(client.sent()).toBeLessThan(inFlightBound);

    held!.resume();
    const reply = await client.reply;
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toEqual({ bytes: total });
    await eventually('the pooled upstream socket is idle', () => served.handler.transport.connections.busy === 0);
  }, 120_000);
});
