import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

/** Where a script URL belongs: one of our packages, a dependency, Node itself, or V8/GC. */
const ownerOf = (url: string, name: string): string => {
  if (url === '') return name.startsWith('(') ? name : '(native)';
  const ours = /\/packages\/([^/]+)\/src\//.exec(url);
  if (ours !== null) return `@apigate/${ours[1]}`;
  const dependency = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency !== null) return dependency[1]!;
  if (url.startsWith('node:')) return 'node internals';
  if (url.includes('/apps/bench/')) return 'bench entry';
  return url;
};

const short = (url: string): string => url.replace(/^file:\/\/.*?\/(packages|node_modules)\//, '$1/').replace(/node_modules\/\.pnpm\/[^/]+\/node_modules\//, 'node_modules/');

/** Top self-time functions and the share of each owner, from the .cpuprofile files in dir. */
export const summarizeProfiles = (dir: string, top = 25): string => {
  const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  if (files.length === 0) return `no .cpuprofile written in ${dir}`;
  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  /** For each function, its self samples by the chain of (up to 4) callers. */
  const chains = new Map<string, Map<string, number>>();
  let total = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
    const hits = new Map<number, number>();
    for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
    const parents = new Map<number, ProfileNode>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node);
    const labelOf = (node: ProfileNode): string => {
      const { functionName, url, lineNumber } = node.callFrame;
      return `${functionName || '(anonymous)'} ${url === '' ? '' : `${short(url)}:${lineNumber + 1}`}`.trim();
    };
    for (const node of profile.nodes) {
      const count = hits.get(node.id) ?? 0;
      if (count === 0) continue;
      const { functionName, url } = node.callFrame;
      const label = labelOf(node);
      byFunction.set(label, (byFunction.get(label) ?? 0) + count);
      const callers: string[] = [];
      for (let parent = parents.get(node.id); parent !== undefined && callers.length < 4; parent = parents.get(parent.id)) callers.push(labelOf(parent));
      const chain = callers.join(' ← ');
      const known = chains.get(label) ?? new Map<string, number>();
      known.set(chain, (known.get(chain) ?? 0) + count);
      chains.set(label, known);
      const owner = ownerOf(url, functionName);
      byOwner.set(owner, (byOwner.get(owner) ?? 0) + count);
      total += count;
    }
  }
  const pct = (count: number): string => `${((count / total) * 100).toFixed(1)} %`;
  const rows = (map: Map<string, number>, limit: number): string[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([name, count]) => `| ${pct(count)} | ${name.replace(/\|/g, '\\|')} |`);
  return [
    `${total} samples. Self time by owner:`,
    '',
    '| self | owner |',
    '| ---: | --- |',
    ...rows(byOwner, 15),
    '',
    `Top ${top} functions by self time:`,
    '',
    '| self | function |',
    '| ---: | --- |',
    ...rows(byFunction, top),
    '',
    'Main callers of the top 8 (self time of that function under that caller chain):',
    '',
    ...[...byFunction.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .flatMap(([name]) => [
        `- ${name}`,
        ...[...(chains.get(name) ?? new Map<string, number>()).entries()]
          .sort((a, b) => b[1] - a[1])
          .slice(0, 3)
          .map(([chain, count]) => `  - ${pct(count)} ← ${chain || '(root)'}`),
      ]),
  ].join('\n');
};
