import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createGateway, get, service, type Policy } from '@apigate/core';
import { leastRequest } from '@apigate/policies/least-request';
import { leastTime } from '@apigate/policies/least-time';
import { client, eventually, resources, sendMany, startGateway, startUpstream, tcpHandles, type Client, type Upstream } from './helpers.ts';

const concurrency = 4;

describe.each<[string, () => Policy]>([
  ['least request', () => leastRequest()],
  // Probes every 25 ms instead of 500 ms so that recovery takes fewer requests; the mechanism is the same.
  ['least time', () => leastTime({ probeMs: 25 })],
])('%s through a real Express gateway, with one upstream answering after 400 ms', (_name, make) => {
  const opened = resources();
  let baseline = 0;
  let fast: Upstream;
  let slow: Upstream;
  let http: Client;

  beforeEach(async () => {
    baseline = tcpHandles();
    fast = opened.add(await startUpstream('fast'));
    // Far slower than the fast upstream gets on a busy machine: while a slow request holds one of the
    // four slots, the other three finish many fast ones, whatever the machine's speed.
    slow = opened.add(await startUpstream('slow', 400));
    const gateway = createGateway({ policies: { balanced: make() }, defaultPolicy: 'balanced' })
      .mount(service({ name: 'api', prefix: '/api' }, [get('/work')]), [fast.origin, slow.origin])
      .build();
    http = opened.add(client(opened.add(await startGateway(gateway)).port));
  });

  afterEach(async () => {
    await opened.closeAll();
    await eventually('every socket, server and timer of the test is closed', () => tcpHandles() <= baseline);
  });

  const window = (total: number): Promise<Map<string, number>> => sendMany(() => http.send('/api/work'), total, concurrency);

  it('shifts traffic to the fast upstream, and back once the slow one recovers', async () => {
    const shed = await window(200);
    expect((shed.get('fast') ?? 0) + (shed.get('slow') ?? 0)).toBe(200);
    expect(shed.get('fast')!).toBeGreaterThan(150);

    slow.delayMs = 0;
    // Keep sending windows of 100 until the recovered upstream's share of one is at least 30%.
    const shares: number[] = [];
    while (shares.length < 60 && (shares.at(-1) ?? 0) < 0.3) shares.push(((await window(100)).get('slow') ?? 0) / 100);
    expect(shares.at(-1)).toBeGreaterThanOrEqual(0.3);
    // Won back within a bounded number of requests, not an amount of time.
    expect(shares.length * 100).toBeLessThanOrEqual(4_000);
  });
});
