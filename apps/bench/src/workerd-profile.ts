import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface Profile {
  nodes: { callFrame: CallFrame }[];
}

/** One CDP session over workerd's inspector socket (the Worker's isolate). */
const connect = async (inspector: string): Promise<{ send: (method: string, params?: object) => Promise<Record<string, unknown>>; close: () => void }> => {
  // The inspector answers once workerd is up; the Worker is listed by its service name.
  let targets: { webSocketDebuggerUrl?: string }[] = [];
  for (let attempt = 0; attempt < 100 && targets.length === 0; attempt++) {
    try {
      targets = (await (await fetch(`${inspector}/json/list`)).json()) as typeof targets;
    } catch {
      await sleep(100);
    }
  }
  const url = targets[0]?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`workerd's inspector at ${inspector} lists no isolate`);
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', reject, { once: true });
  });
  const pending = new Map<number, (result: Record<string, unknown>) => void>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: Record<string, unknown> };
    if (message.id !== undefined) pending.get(message.id)?.(message.result ?? {});
  });
  let next = 0;
  return {
    send: (method, params = {}) =>
      new Promise((resolve) => {
        const id = ++next;
        pending.set(id, resolve);
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
};

/**
 * A V8 CPU profile of the Worker while `load` runs, taken through workerd's inspector, with each
 * frame's URL set to the source file it was bundled from (the `// path` comments esbuild writes
 * before each module of an unminified bundle), so that summarizeProfiles can tell our packages
 * from Hono's.
 */
export const profileWorker = async ({ inspector, bundle, load }: { inspector: string; bundle: string; load: () => Promise<void> }): Promise<object> => {
  const session = await connect(inspector);
  await session.send('Profiler.enable');
  await session.send('Profiler.setSamplingInterval', { interval: 100 });
  await session.send('Profiler.start');
  await load();
  const { profile } = (await session.send('Profiler.stop')) as unknown as { profile: Profile };
  session.close();
  const starts: [line: number, file: string][] = [];
  readFileSync(bundle, 'utf8')
    .split('\n')
    .forEach((text, line) => {
      const file = /^\/\/ (\S+\.[cm]?[jt]s)$/.exec(text)?.[1];
      if (file !== undefined) starts.push([line, file]);
    });
  for (const { callFrame } of profile.nodes) {
    if (callFrame.url === '') continue;
    let file: string | undefined;
    for (const [line, name] of starts) {
      if (line > callFrame.lineNumber) break;
      file = name;
    }
    if (file !== undefined) callFrame.url = `file:///${file.replace(/^(\.\.\/)+/, '')}`;
  }
  return profile;
};
