import { createHash } from 'node:crypto';
import { request } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import express from 'express';
import { eventually, rawRequest, parseHead, salesGateway, send, startGateway, startUpstream, type Echo, type GatewayApp, type Upstream } from './helpers.ts';

describe('express adapter: express.json() and express.urlencoded() before the gateway', () => {
  let upstream: Upstream;
  let gateway: GatewayApp;

  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await startGateway(salesGateway(upstream.origin), { before: [express.json(), express.urlencoded({ extended: true })] });
  });

  afterAll(async () => {
    await gateway.close();
    await upstream.close();
  });

  const expectFramed = (seen: Echo): void => {
    expect(seen.headers).not.toHaveProperty('transfer-encoding');
    expect(Number(seen.headers['content-length'])).toBe(Buffer.byteLength(seen.body));
    expect(seen.bytes).toBe(Buffer.byteLength(seen.body));
  };

  it('re-serializes a JSON body that express.json() parsed, with a matching Content-Length', async () => {
    const sent = { item: 'café', qty: 2, tags: ['a', 'b'], nested: { ok: true, none: null } };
    // Whitespace that re-serialization drops, so the lengths differ from the client's.
    const body = JSON.stringify(sent, null, 2);
    const reply = await send(gateway.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(reply.status).toBe(200);
    const seen = reply.json<Echo>();
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/orders');
    expect(JSON.parse(seen.body)).toEqual(sent);
    expect(seen.headers['content-type']).toBe('application/json');
    expectFramed(seen);
  });

  it('re-serializes a chunked JSON body without Transfer-Encoding', async () => {
    const sent = { chunked: true, n: 1 };
    const reply = await send(gateway.port, '/sales/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      body: JSON.stringify(sent),
    });
    const seen = reply.json<Echo>();
    expect(JSON.parse(seen.body)).toEqual(sent);
    expectFramed(seen);
  });

  it('forwards a gzipped JSON body that express.json() inflated as plain JSON without Content-Encoding', async () => {
    const sent = { zipped: true, list: [1, 2, 3] };
    const reply = await send(gateway.port, '/sales/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify(sent)),
    });
    const seen = reply.json<Echo>();
    expect(JSON.parse(seen.body)).toEqual(sent);
    expect(seen.headers).not.toHaveProperty('content-encoding');
    expectFramed(seen);
  });

  it('re-encodes a form body that express.urlencoded() parsed, with a matching Content-Length', async () => {
    const body = 'name=J%C3%BCrgen+M&tag=a&tag=b&address[city]=Paris&empty=';
    const reply = await send(gateway.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    expect(reply.status).toBe(200);
    const seen = reply.json<Echo>();
    const received = new URLSearchParams(seen.body);
    expect(received.get('name')).toBe('Jürgen M');
    expect(received.getAll('tag')).toEqual(['a', 'b']);
    expect(received.get('address[city]')).toBe('Paris');
    expect(received.get('empty')).toBe('');
    expectFramed(seen);
  });

  it('streams an application/octet-stream body untouched past the parsers', async () => {
    const body = Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7) % 256));
    let digest = '';
    const hashing = await startUpstream((req, res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (chunk: Buffer) => {
        bytes += chunk.byteLength;
        hash.update(chunk);
      });
      req.on('end', () => {
        digest = hash.digest('hex');
        res.end(JSON.stringify({ bytes, contentLength: req.headers['content-length'], te: req.headers['transfer-encoding'] ?? null }));
      });
    });
    const streaming = await startGateway(salesGateway(hashing.origin), { before: [express.json(), express.urlencoded({ extended: true })] });
    try {
      const reply = await send(streaming.port, '/sales/upload', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
      expect(reply.status).toBe(200);
      expect(reply.json()).toEqual({ bytes: body.byteLength, contentLength: String(body.byteLength), te: null });
      expect(digest).toBe(createHash('sha256').update(body).digest('hex'));
    } finally {
      await streaming.close();
      await hashing.close();
    }
  });

  it('streams a body sent with Expect: 100-continue, without passing the expectation upstream', async () => {
    const reply = await new Promise<{ status: number; seen: Echo }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: gateway.port, method: 'POST', path: '/sales/orders', agent: false, headers: { expect: '100-continue', 'content-type': 'text/plain', 'content-length': 5 } },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, seen: JSON.parse(text) as Echo }));
        },
      );
      req.on('error', reject);
      req.on('continue', () => req.end('hello'));
    });
    expect(reply.status).toBe(200);
    expect(reply.seen.body).toBe('hello');
    expect(reply.seen.headers).not.toHaveProperty('expect');
  });

  it('streams a chunked application/octet-stream body as chunked', async () => {
    const raw = await rawRequest(
      gateway.port,
      'POST /sales/orders HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
    );
    const { status, body } = parseHead(raw);
    expect(status).toBe(200);
    const seen = JSON.parse(body) as Echo;
    expect(seen.body).toBe('hello world');
    expect(seen.headers['transfer-encoding']).toBe('chunked');
    expect(seen.headers).not.toHaveProperty('content-length');
  });

  it('forwards an empty JSON POST with Content-Length 0 and gets the upstream answer', async () => {
    const reply = await send(gateway.port, '/sales/orders', { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': 0 } });
    expect(reply.status).toBe(200);
    const seen = reply.json<Echo>();
    expect(seen.bytes).toBe(0);
    expect(seen.headers['content-length']).toBe('0');
  });

  it('forwards a GET through the parsers without inventing a body', async () => {
    const reply = await send(gateway.port, '/sales/ping', { headers: { 'content-type': 'application/json' } });
    const seen = reply.json<Echo>();
    expect(seen.bytes).toBe(0);
    expect(seen.headers).not.toHaveProperty('transfer-encoding');
  });

  it('leaves no upstream socket in use after parsed bodies', async () => {
    await eventually('no busy upstream sockets', () => gateway.pool().busy === 0);
  });
});
