import { Server, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { tcpHandles } from '@apigate/test-utils/http';
import type { Fixture } from './adapters.ts';

/** What the process held when a case began, to compare with what it holds after it. */
export interface Holdings {
  readonly handles: number;
}

/**
 * TCP handles of this process that no open upstream connection explains. A pooled idle connection
 * is one handle here, the upstream's end: the pool's own end is unref'd while it is idle (by
 * undici's pools and by Node's agent alike), and an unref'd handle is no active resource. Busy
 * upstream sockets are ref'd, but a case is over only once the agent has none (`held`). On
 * workerd the gateway's end is in workerd's process.
 */
const unexplained = (f: Fixture): number => tcpHandles() - f.upstreams.openConnections();

/** This process's active (ref'd) handles: sockets, servers, pipes. */
const activeHandles = (): unknown[] => (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();

/**
 * This process's own client connections to the app that are still open or closing (the cases'
 * requests go over fresh connections that close after their response, on both ends in turn).
 */
const toApp = (f: Fixture): number => {
  const app = Number(new URL(f.target.base).port);
  return activeHandles().filter((handle) => handle instanceof Socket && handle.remotePort === app).length;
};

/**
 * This process's TCP sockets and servers, as `local->remote` ports (a server as `listening:port`),
 * so that a leak report says which connection is left and to what.
 */
const describeHandles = (f: Fixture): string => {
  const names = new Map<number, string>([[Number(new URL(f.target.base).port), 'app']]);
  for (const [name, origin] of Object.entries(f.upstreams.origins)) {
    for (const [index, url] of (Array.isArray(origin) ? origin : [origin]).entries()) {
      if (typeof url === 'string' && URL.canParse(url)) names.set(Number(new URL(url).port), Array.isArray(origin) ? `${name}[${index}]` : name);
    }
  }
  const port = (value: number | undefined): string => (value === undefined ? '?' : `${value}${names.has(value) ? ` (${names.get(value)})` : ''}`);
  return activeHandles()
    .flatMap((handle) => {
      if (handle instanceof Socket) return [`${port(handle.localPort)}->${port(handle.remotePort)}${handle.destroyed ? ' destroyed' : ''}`];
      if (handle instanceof Server) {
        const address = handle.address();
        return [`listening:${typeof address === 'object' && address !== null ? port(address.port) : String(address)}`];
      }
      return [];
    })
    .join(', ');
};

/** What is still held: one line per resource that should have been released, [] when none. */
const held = async (f: Fixture, before?: Holdings): Promise<string[]> => {
  const left: string[] = [];
  const node = f.target.node;
  if (node !== undefined) {
    const busy = node.busySockets();
    if (busy > 0) left.push(`the agent has ${busy} upstream socket(s) in use`);
    const clients = await node.clientConnections();
    if (clients > 0) left.push(`the app holds ${clients} client connection(s)`);
    const open = f.upstreams.openConnections();
    const idle = node.idleSockets();
    if (open !== idle) left.push(`the upstreams hold ${open} connection(s) for ${idle} pooled idle one(s)`);
  }
  const inFlight = f.upstreams.inFlight();
  if (inFlight > 0) left.push(`${inFlight} upstream request(s) still open`);
  const clients = toApp(f);
  if (clients > 0) left.push(`this process holds ${clients} client connection(s) to the app`);
  if (before !== undefined) {
    const extra = unexplained(f) - before.handles;
    if (extra > 0) left.push(`${extra} TCP handle(s) more than before the case (now: ${describeHandles(f)}; ${f.upstreams.openConnections()} open upstream connection(s))`);
  }
  return left;
};

/**
 * Asks `held` again until nothing is left, `attempts` times 50 ms apart: a liveness bound, not a
 * measurement; at most twice that long on a host so busy that each ask takes long.
 */
const untilReleased = async (f: Fixture, before?: Holdings, attempts = 200): Promise<string[]> => {
  const giveUp = Date.now() + attempts * 100;
  let left = await held(f, before);
  for (let attempt = 0; attempt < attempts && Date.now() < giveUp && left.length > 0; attempt++) {
    await sleep(50);
    left = await held(f, before);
  }
  return left;
};

/**
 * What the process holds before a case, taken once what earlier cases held has been released, so
 * that the comparison afterwards is not loosened by their sockets still closing.
 */
export const holdings = async (f: Fixture): Promise<Holdings> => {
  // Longer than the upstreams' own bound on an exchange (upstreams.ts): what a failed case leaked
  // is ended there, and only that case fails.
  const left = await untilReleased(f, undefined, 800);
  if (left.length > 0) throw new Error(`an earlier case left resources behind: ${left.join('; ')}`);
  return { handles: unexplained(f) };
};

/**
 * What a case left behind once it is over: no agent socket in use, no client connection held by
 * the app or left open by this process, the upstreams holding only the pool's idle connections and
 * no open request, no TCP handle more than before (the upstream's end of a pooled idle connection
 * is explained). [] when it released everything.
 */
export const leftOver = (f: Fixture, before: Holdings): Promise<string[]> => untilReleased(f, before);
