import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually, salesGateway, send, startGateway, transportNames, type GatewayApp } from './helpers.ts';

describe.each(transportNames)('express adapter on the %s transport: connect timeout', (transport) => {
  let listener: ChildProcess;
  let filler: Socket;
  let port: number;
  let gateway: GatewayApp;
  const timedOut: string[] = [];

  beforeAll(async () => {
    listener = spawn('python3', [fileURLToPath(new URL('./fixtures/full-backlog.py', import.meta.url))], { stdio: ['pipe', 'pipe', 'inherit'] });
    port = await new Promise<number>((resolve, reject) => {
      listener.once('error', reject);
      listener.stdout!.once('data', (data: Buffer) => resolve(Number(data.toString().trim())));
    });
    // Take the one place in the accept queue; the gateway's connection then hangs in SYN_SENT.
    filler = connect(port, '127.0.0.1');
    await new Promise((resolve) => filler.once('connect', resolve));
    gateway = await startGateway(
      salesGateway(`http://127.0.0.1:${port}`, {
        upstream: { connectTimeout: 200, requestTimeout: 60_000 },
        observer: { upstreamFailed: (event) => timedOut.push(event.error.code) },
      }),
      { transport },
    );
  });

  afterAll(async () => {
    await gateway.close();
    filler.destroy();
    listener.stdin!.end();
    await new Promise((resolve) => listener.once('exit', resolve));
  });

  it('answers 504 upstream_timeout when the upstream does not accept the connection within connectTimeout', async () => {
    const reply = await send(gateway.port, '/sales/ping');
    expect(reply.status).toBe(504);
    expect(reply.text).toBe('upstream_timeout: The upstream did not respond in time.\n');
    expect(timedOut).toEqual(['upstream_timeout']);
    await eventually('no upstream socket left in use', () => gateway.pool().busy === 0);
  });
});
