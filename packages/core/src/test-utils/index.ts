import type { GatewayResponse } from '@apigate/errors';
import type { Gateway } from '../gateway.ts';
import type { RequestIO } from '../match.ts';
import type { ForwardPlan, Plan, RespondPlan } from '../plan.ts';
import type { RequestHeaders } from '../request.ts';

/** RequestHeaders over a plain object, whose `record` shows what would go upstream. */
export interface TestHeaders extends RequestHeaders {
  readonly record: Record<string, string>;
}

export const testHeaders = (init: Record<string, string> = {}): TestHeaders => {
  const record: Record<string, string> = {};
  for (const [name, value] of Object.entries(init)) record[name.toLowerCase()] = value;
  return {
    record,
    get: (name) => (Object.hasOwn(record, name.toLowerCase()) ? record[name.toLowerCase()] : undefined),
    has: (name) => Object.hasOwn(record, name.toLowerCase()),
    set: (name, value) => {
      record[name.toLowerCase()] = value;
    },
    delete: (name) => {
      delete record[name.toLowerCase()];
    },
  };
};

export const testIO = (headers: Record<string, string> = {}, clientIp: string | undefined = '127.0.0.1'): RequestIO & { headers: TestHeaders } => ({
  headers: testHeaders(headers),
  clientIp,
});

/**
 * Matches and handles one request in-process; fails the test when the path does not match.
 * `request` is a request line without the version: `'GET /sales/ping?x=1'`.
 */
export const run = async (gateway: Gateway<object>, request: string, io: RequestIO = testIO()): Promise<Plan> => {
  const space = request.indexOf(' ');
  if (space === -1) throw new Error(`"${request}" is not a request line (method, space, target)`);
  const match = gateway.match(request.slice(0, space), request.slice(space + 1));
  if (match === undefined) throw new Error(`${request} matched no gateway path`);
  return await gateway.handle(match, io);
};

export const bodyText = (response: GatewayResponse): string =>
  response.body === null ? '' : typeof response.body === 'string' ? response.body : new TextDecoder().decode(response.body);

export const asForward = (plan: Plan): ForwardPlan => {
  if (plan.kind !== 'forward') throw new Error(`expected a forward plan, got ${plan.response.status} ${bodyText(plan.response)}`);
  return plan;
};

export const asRespond = (plan: Plan): RespondPlan => {
  if (plan.kind !== 'respond') throw new Error(`expected a respond plan, got a forward to ${plan.backend.url}${plan.uri}`);
  return plan;
};

/** The upstream URI a request is forwarded to. */
export const forwardedUri = async (gateway: Gateway<object>, request: string, io?: RequestIO): Promise<string> =>
  asForward(await run(gateway, request, io)).uri;
