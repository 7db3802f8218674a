import { isDeepStrictEqual } from 'node:util';
import { expect } from '@jest/globals';
import type { AdapterName } from './adapters.ts';

/**
 * The known, explained differences between adapters. A case listed here for an adapter is
 * asserted to still differ, exactly as described: when the divergence disappears, the test fails
 * and says to remove the entry (and its README row). Keep README.md's table in step.
 */
export interface Divergence {
  /** The case's name, as passed to `conform()`. */
  readonly case: string;
  readonly adapter: AdapterName;
  /** The fields of the observation that differ from the common expectation, with their value here. */
  readonly observed: Readonly<Record<string, unknown>>;
  readonly why: string;
}

export const divergences: readonly Divergence[] = [
  {
    case: 'refuses a `..` parameter',
    adapter: 'hono-workerd',
    observed: { status: 404, gateway: false, code: undefined, contentType: undefined, bodyStatus: undefined },
    why: 'workerd parses the request target with the WHATWG URL parser, which resolves `/echo/files/..` to `/echo/` before the worker runs; no gateway route matches, so the host app answers 404. The `..` never reaches the gateway, let alone an upstream.',
  },
  {
    case: 'refuses a `%2e%2e` parameter',
    adapter: 'hono-workerd',
    observed: { status: 404, gateway: false, code: undefined, contentType: undefined, bodyStatus: undefined },
    why: 'The WHATWG URL parser treats `%2e%2e` as `..` and resolves it (as above) before the worker runs.',
  },
  {
    case: 'dot segment',
    adapter: 'hono-workerd',
    observed: { status: 200, gateway: false },
    why: 'The WHATWG URL parser resolves `/echo/./ping` to `/echo/ping` before the worker runs, so the gateway forwards it; on Node the gateway sees the path as sent and no route matches it.',
  },
  {
    case: 'absolute-form target',
    adapter: 'hono-workerd',
    observed: { status: 500, name: undefined, url: undefined },
    why: 'workerd refuses an absolute-form request target (`GET http://evil.example/echo/ping`) itself, with a plain 500 ("invalid URL" in its log), before any worker code runs, for the app\'s own routes too. Behind Cloudflare\'s edge such a target does not reach workerd.',
  },
  {
    case: 'answers 502 upstream_reset when the upstream resets before responding',
    adapter: 'hono-workerd',
    observed: { code: 'upstream_unreachable' },
    why: 'workerd reports a refused connection and a reset alike, as "Network connection lost." with no error code; the fetch transport cannot tell them apart and maps both to upstream_unreachable. The status (502) is the same.',
  },
  {
    case: 'ignores a client-sent CF-Connecting-IP',
    adapter: 'hono-workerd',
    observed: { xForwardedFor: '6.6.6.6', forwardedFor: 'for=6.6.6.6' },
    why: 'On workerd the client address is only known from CF-Connecting-IP, which @apigate/hono reads by default. Cloudflare\'s edge always overwrites that header, but Miniflare keeps a value the client sent (it only fills it in when absent), so locally a client can choose its X-Forwarded-For. The Node adapters use the socket address and ignore the header.',
  },
  {
    case: 'query sent as is',
    adapter: 'hono-workerd',
    observed: { url: `/ping?q=%22x%22%3Cy%3E%27z%27` },
    why: 'workerd hands the worker a Request whose URL went through the WHATWG URL parser, which percent-encodes `"`, `<`, `>` and `\'` in the query of an http(s) URL. The bytes the client sent are gone before the gateway runs; the decoded query is the same.',
  },
  {
    case: 'client abort mid-upload',
    adapter: 'hono-workerd',
    observed: { closedEarly: false },
    why: 'In the worker, request.body errors ("Network connection lost.") when the client leaves mid-upload, and the transport aborts its fetch; but workerd ends the errored upload stream it was sending upstream with a clean chunked terminator first, so the upstream reads a complete (truncated) body before its connection closes. The Node adapters abort the upstream request, and the upstream sees an incomplete body.',
  },
  {
    case: 'stalled upload',
    adapter: 'hono-workerd',
    observed: { connection: undefined },
    why: "workerd owns the client connection: it drops a Worker's `Connection` response header, so the 408 the gateway answers to a stalled upload does not say `Connection: close` there. The status, code and the aborted upstream request are the same.",
  },
];

const find = (caseName: string, adapter: AdapterName): Divergence | undefined => divergences.find((d) => d.case === caseName && d.adapter === adapter);

/** Observations per case and adapter, for the cross-adapter comparison at the end of the suite. */
export const observations = new Map<string, Map<AdapterName, Record<string, unknown>>>();

/**
 * Asserts that an adapter's observation of a case matches the common expectation, or, for a
 * known divergence, that it still differs exactly as documented.
 */
export const conform = (caseName: string, adapter: AdapterName, observed: Record<string, unknown>, expected: Record<string, unknown>): void => {
  let byAdapter = observations.get(caseName);
  if (byAdapter === undefined) observations.set(caseName, (byAdapter = new Map()));
  byAdapter.set(adapter, observed);
  const divergence = find(caseName, adapter);
  if (divergence === undefined) {
    expect(observed).toEqual(expected);
    return;
  }
  if (isDeepStrictEqual(observed, expected)) {
    throw new Error(`The known divergence of "${caseName}" on ${adapter} no longer occurs: remove it from test/divergences.ts and README.md.`);
  }
  expect(observed).toEqual({ ...expected, ...divergence.observed });
};

/** Whether an adapter is expected to match the others on a case. */
export const converges = (caseName: string, adapter: AdapterName): boolean => find(caseName, adapter) === undefined;
