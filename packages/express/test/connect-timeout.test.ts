import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
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

describe.each(transportNames)('express adapter on the %s transport: connect timeout over a TLS handshake', (transport) => {
  let silent: Server;
  let gateway: GatewayApp;
  const failures: { code: string; upstreamCode: unknown }[] = [];

  beforeAll(async () => {
    // Accepts the TCP connection, reads the ClientHello (and so hears the close) and never answers it.
    silent = createServer((socket) => socket.on('error', () => undefined).resume());
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    gateway = await startGateway(
      salesGateway(`https://127.0.0.1:${(silent.address() as AddressInfo).port}`, {
        // Only connectTimeout can answer within the test's time: the upstream's silence is allowed a minute.
        upstream: { connectTimeout: 200, requestTimeout: 60_000 },
        observer: { upstreamFailed: (event) => failures.push({ code: event.error.code, upstreamCode: (event.error.details as { upstreamCode?: unknown } | undefined)?.upstreamCode }) },
      }),
      { transport },
    );
  });

  afterAll(async () => {
    await gateway.close();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('answers 504 upstream_timeout when an https backend accepts the connection but never completes the handshake', async () => {
    const reply = await send(gateway.port, '/sales/ping');
    expect(reply.status).toBe(504);
    expect(reply.text).toBe('upstream_timeout: The upstream did not respond in time.\n');
    expect(failures).toEqual([{ code: 'upstream_timeout', upstreamCode: transport === 'node' ? 'ECONNECT_TIMEOUT' : 'UND_ERR_CONNECT_TIMEOUT' }]);
    await eventually('no upstream socket left in use', () => gateway.pool().busy === 0);
    await eventually('the stalled connection was closed', async () => (await new Promise<number>((resolve) => silent.getConnections((_error, count) => resolve(count)))) === 0);
  });
});
