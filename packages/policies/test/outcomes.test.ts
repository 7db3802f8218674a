import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createGateway, get, service, type Backend, type UpstreamOutcome } from '@apigate/core';
import { leastRequestBalancer } from '@apigate/policies/least-request';
import { leastTimeBalancer } from '@apigate/policies/least-time';
import { policy, type Balancer, type BalancerFactory, type Strategy } from '@apigate/policies';
import { client, eventually, nameOf, resources, startGateway, startUpstream, tcpHandles, type Client, type Upstream } from './helpers.ts';

interface Log {
  starts: string[];
  ends: { url: string; outcome: UpstreamOutcome }[];
}

/** Wraps a balancer factory and records every start and end the gateway reports. */
const recorded = (inner: BalancerFactory, log: Log): BalancerFactory => ({
  name: inner.name,
  create(backends) {
    const balancer = inner.create(backends);
    const wrapped: Balancer = {
      pick: (candidates, key) => balancer.pick(candidates, key),
      start(backend: Backend) {
        log.starts.push(backend.url);
        balancer.start?.(backend);
      },
      end(backend: Backend, outcome: UpstreamOutcome) {
        log.ends.push({ url: backend.url, outcome });
        balancer.end?.(backend, outcome);
      },
    };
    return wrapped;
  },
});

describe.each<[string, () => BalancerFactory]>([
  ['least request', () => leastRequestBalancer()],
  ['least time', () => leastTimeBalancer()],
])('%s hears how every request it started ended, through a real Express gateway', (_name, make) => {
  const opened = resources();
  let baseline = 0;
  let fast: Upstream;
  let hanging: Upstream;
  let refused: Upstream;
  let http: Client;
  let port = 0;
  let log: Log;

  beforeEach(async () => {
    baseline = tcpHandles();
    log = { starts: [], ends: [] };
    fast = opened.add(await startUpstream('fast'));
    hanging = opened.add(await startUpstream('hanging', 60_000));
    refused = await startUpstream('refused');
    await refused.close();
    // `x-to: <name>` sends a request to that upstream only; without it every upstream is a candidate.
    const byName: Strategy = {
      name: 'by-name',
      route: (req, backends) => {
        const to = { fast, hanging, refused }[req.headers.get('x-to') as 'fast'];
        return { key: undefined, candidates: to ? backends.filter((b) => b.url === to.origin) : backends };
      },
    };
    const gateway = createGateway({ policies: { p: policy({ strategy: byName, balancer: recorded(make(), log) }) }, defaultPolicy: 'p' })
      .mount(service({ name: 'api', prefix: '/api' }, [get('/work')]), [fast.origin, hanging.origin, refused.origin])
      .build();
    const app = opened.add(await startGateway(gateway));
    port = app.port;
    http = opened.add(client(port));
  });

  afterEach(async () => {
    await opened.closeAll();
    await eventually('every socket, server and timer of the test is closed', () => tcpHandles() <= baseline);
  });

  it('ends a request whose client leaves before the upstream answers (client_closed), so it is not in flight forever', async () => {
    const req = request({ host: '127.0.0.1', port, path: '/api/work', headers: { 'x-to': 'hanging' }, agent: false });
    req.on('error', () => {});
    req.end();
    await eventually('the hanging upstream received the request', () => hanging.received() === 1);
    req.destroy();
    await eventually('every started request has ended', () => log.ends.length === 1);
    expect(log.starts).toEqual([hanging.origin]);
    expect(log.ends[0]).toMatchObject({ url: hanging.origin, outcome: { ok: false, code: 'client_closed' } });
    expect(nameOf(await http.send('/api/work', { 'x-to': 'fast' }))).toBe('fast');
  });

  it('ends a request to an upstream that refuses connections with its error code, once', async () => {
    const reply = await http.send('/api/work', { 'x-to': 'refused' });
    expect(reply.status).toBe(502);
    await eventually('the request has ended', () => log.ends.length === 1);
    expect(log.ends[0]).toMatchObject({ url: refused.origin, outcome: { ok: false } });
    expect(log.starts).toEqual([refused.origin]);
  });

  it('ends every successful request once with ok and the status', async () => {
    for (let i = 0; i < 5; i++) expect(nameOf(await http.send('/api/work', { 'x-to': 'fast' }))).toBe('fast');
    await eventually('every request has ended', () => log.ends.length === 5);
    expect(log.ends.every((end) => end.outcome.ok && end.outcome.status === 200)).toBe(true);
  });
});
