import { describe, expect, it } from '@jest/globals';
import { createGateway, get, service } from '@apigate/core';
import { fetchHandler } from './handler.ts';

/**
 * No upstream is reached in these cases: a DELETE on a GET route answers 405 with Allow, which
 * says which gateway path matched, and a refused parameter answers 400 before any forwarding.
 */
const gateway = createGateway()
  .mount(service({ name: 'sales', prefix: '/sales' }, [get('/ping'), get('/item/{id}/review', { to: '/reviews/{id}' })]), ['http://127.0.0.1:9'])
  .build();
const handle = fetchHandler(gateway);

/** Status and body of the gateway's answer, or 'not a gateway path'. */
const outcome = async (method: string, url: string, target?: string): Promise<string> => {
  const response = await handle(new Request(url, { method }), { target });
  return response === undefined ? 'not a gateway path' : `${response.status} ${await response.text()}`.trim();
};

describe('fetchHandler matches the raw request target', () => {
  it('without a raw target, matches the URL the runtime parsed (dot segments already resolved)', async () => {
    expect(new Request('http://gw.test/aux/%2e%2e/sales/ping').url).toBe('http://gw.test/sales/ping');
    expect(await outcome('DELETE', 'http://gw.test/aux/%2e%2e/sales/ping')).toMatch(/^405 /);
  });

  it('matches the raw target the URL was parsed from: a prefix escape is not a gateway path', async () => {
    for (const raw of ['/aux/%2e%2e/sales/ping', '/aux/%2E%2e/sales/ping', '/aux/../sales/ping', '/aux/.%2e/sales/ping', '/aux\\..\\sales\\ping']) {
      expect([raw, await outcome('DELETE', `http://gw.test${raw}`, raw)]).toEqual([raw, 'not a gateway path']);
    }
  });

  it('refuses dot segments in a parameter of the raw target with 400 invalid_path, for GET and HEAD', async () => {
    for (const param of ['%2e%2e', '%2E%2e', '..', '.', '%2e']) {
      const raw = `/sales/item/${param}/review`;
      expect(await outcome('GET', `http://gw.test${raw}`, raw)).toBe('400 invalid_path: The request path is not allowed.');
      expect(await outcome('HEAD', `http://gw.test${raw}`, raw)).toBe('400');
    }
  });

  it('matches the path of an absolute-form raw target', async () => {
    expect(await outcome('DELETE', 'http://evil.example/sales/ping', 'http://evil.example/sales/ping')).toMatch(/^405 /);
  });

  it('matches the URL when an app rewrote it from a raw target that URL parsing leaves as it is', async () => {
    expect(await outcome('DELETE', 'http://gw.test/sales/ping', '/mounted/sales/ping')).toMatch(/^405 /);
  });

  it('refuses a gateway path rewritten from a raw target that URL parsing may have moved', async () => {
    for (const raw of ['/mounted/aux/%2e%2e/sales/ping', '/mounted/sales/./ping', '/mounted\\sales/ping']) {
      expect([raw, await outcome('GET', 'http://gw.test/sales/ping', raw)]).toEqual([raw, '400 invalid_path: The request path is not allowed.']);
    }
    // What is not a gateway path is still left to the app.
    expect(await outcome('GET', 'http://gw.test/own', '/mounted/x/../own')).toBe('not a gateway path');
  });
});
