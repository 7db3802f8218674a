import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import type { Backend } from '@apigate/core';
import { backend, backends, pickMany } from '../test-utils/index.ts';
import { consistentHashBalancer } from './index.ts';

const keys = (count: number, prefix = 'user-'): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

/** Which backend URL each key lands on. */
const assign = (list: readonly Backend[], keyList: readonly string[]): string[] => {
  const balancer = consistentHashBalancer().create(list);
  return keyList.map((key) => balancer.pick(list, key)!.url);
};

const fixture = fileURLToPath(new URL('../../test/fixtures/consistent-hash-picks.ts', import.meta.url));

/** Runs the picks fixture in a separate Node process (sources resolved by the @apigate/source condition). */
const picksInChildProcess = (list: readonly Backend[], keyList: readonly string[]): Promise<(string | null)[]> =>
  new Promise((resolve, reject) => {
    // The child must not inherit jest's --experimental-vm-modules.
    const env = { ...process.env, NODE_OPTIONS: '' };
    const child = spawn(process.execPath, ['--conditions=@apigate/source', '--no-warnings', fixture], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`fixture exited with ${code}: ${Buffer.concat(err).toString('utf8')}`));
      else resolve(JSON.parse(Buffer.concat(out).toString('utf8')) as (string | null)[]);
    });
    child.stdin.end(JSON.stringify({ backends: list.map(({ url, weight }) => ({ url, weight })), keys: keyList }));
  });

describe('consistentHashBalancer', () => {
  it('sends the same key to the same backend every time', () => {
    const list = backends(5);
    const balancer = consistentHashBalancer().create(list);
    for (const key of keys(200)) {
      const first = balancer.pick(list, key);
      for (let i = 0; i < 5; i++) expect(balancer.pick(list, key)).toBe(first);
    }
  });

  it('agrees between two balancers and between backend objects with equal URLs, whatever the candidate order', () => {
    const list = backends(6);
    const copies = list.map((b) => ({ ...b })).reverse();
    expect(assign(copies, keys(1_000))).toEqual(assign(list, keys(1_000)));
  });

  it('round-robins requests without a key', () => {
    const list = [backend('a'), backend('b', 2)];
    const balancer = consistentHashBalancer().create(list);
    expect(Array.from({ length: 6 }, () => balancer.pick(list, undefined)?.url.slice(7))).toEqual(['b', 'a', 'b', 'b', 'a', 'b']);
  });

  it('hashes the empty string as a key (strategies turn empty values into no key before)', () => {
    const list = backends(4);
    const balancer = consistentHashBalancer().create(list);
    const first = balancer.pick(list, '');
    expect(list).toContain(first);
    expect(balancer.pick(list, '')).toBe(first);
  });

  it('picks none of no candidates and the only one of one', () => {
    const only = backend('only');
    const balancer = consistentHashBalancer().create([only]);
    expect(balancer.pick([], 'k')).toBeUndefined();
    expect(balancer.pick([only], 'k')).toBe(only);
  });

  it('spreads 10 000 distinct keys evenly over 5 equal backends (each 20% ± 2 points)', () => {
    const list = backends(5);
    const counts = pickMany(consistentHashBalancer().create(list), list, 10_000, (i) => `user-${i}`);
    for (const b of list) expect(Math.abs(counts[b.url]! / 10_000 - 0.2)).toBeLessThan(0.02);
  });

  it.each([
    [[90, 10]],
    [[3, 1]],
    [[5, 3, 2]],
    [[1, 1, 1, 7]],
  ])('gives weights %j their share of 10 000 distinct keys within ± 2 points', (weights) => {
    const list = weights.map((weight, i) => backend(`w${i}`, weight));
    const total = weights.reduce((sum, w) => sum + w, 0);
    const counts = pickMany(consistentHashBalancer().create(list), list, 10_000, (i) => `session-${i}`);
    list.forEach((b, i) => expect(Math.abs((counts[b.url] ?? 0) / 10_000 - weights[i]! / total)).toBeLessThan(0.02));
  });

  describe.each([5, 10])('with %i backends', (n) => {
    const list = backends(n);
    const keyList = keys(10_000);
    const before = assign(list, keyList);

    it(`moves about 1/${n + 1} of 10 000 keys (± 2 points) when one backend is added, all of them to the new one`, () => {
      const added = backend('added');
      const after = assign([...list, added], keyList);
      const moved = keyList.filter((_, i) => after[i] !== before[i]);
      expect(Math.abs(moved.length / 10_000 - 1 / (n + 1))).toBeLessThan(0.02);
      // No key moves between two backends that both stayed.
      expect(keyList.every((_, i) => after[i] === before[i] || after[i] === added.url)).toBe(true);
    });

    it(`moves about 1/${n} of 10 000 keys (± 2 points) when one backend is removed, only the keys it held`, () => {
      const removed = list[2]!;
      const after = assign(list.filter((b) => b !== removed), keyList);
      const moved = keyList.filter((_, i) => after[i] !== before[i]);
      expect(Math.abs(moved.length / 10_000 - 1 / n)).toBeLessThan(0.02);
      expect(keyList.every((_, i) => (before[i] === removed.url ? after[i] !== removed.url : after[i] === before[i]))).toBe(true);
    });
  });

  it('moves keys only towards a backend whose weight grows', () => {
    const keyList = keys(10_000);
    const list = backends(4);
    const before = assign(list, keyList);
    const heavier = [backend('b0', 2), ...list.slice(1)];
    const after = assign(heavier, keyList);
    const moved = keyList.filter((_, i) => after[i] !== before[i]);
    // b0 goes from 1/4 to 2/5 of the keys: about 15% move, all of them to b0.
    expect(Math.abs(moved.length / 10_000 - 0.15)).toBeLessThan(0.02);
    expect(keyList.every((_, i) => after[i] === before[i] || after[i] === 'http://b0')).toBe(true);
  });

  it('makes the same picks in a separate process as in this one (1 000 keys, weighted backends, odd keys)', async () => {
    const list = [backend('10.0.0.1:8080'), backend('10.0.0.2:8080', 3), backend('api-3.internal'), { ...backend('x'), url: 'https://eu.example/v1' }];
    const keyList = [...keys(1_000, 'k'), 'émoji 🎉', '中文', 'a\u0000b', '\ud800', ' ', 'x'.repeat(10_000)];
    const here = assign(list, keyList);
    expect(await picksInChildProcess(list, keyList)).toEqual(here);
    // The picks spread over every backend, so the comparison means something.
    expect(new Set(here).size).toBe(list.length);
  });
});
