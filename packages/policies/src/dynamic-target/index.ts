import type { Backend, Policy, PolicyRequest } from '@apigate/core';
import { policy } from '../policy.ts';
import { roundRobinBalancer } from '../round-robin/round-robin.ts';
import type { BalancerFactory, Strategy } from '../types.ts';

/**
 * Names the backend (or backends) a request goes to: a configured backend's URL as configured
 * (`http://10.0.0.5:8080/v1`) or its origin (`http://10.0.0.5:8080`), or a list of them to balance
 * over; undefined for the fallback.
 */
export type TargetSelect = (request: PolicyRequest) => string | readonly string[] | undefined;

/** A request value (a header's, the Host) mapped to the backend or backends it goes to. */
export type TargetMap = Readonly<Record<string, string | readonly string[]>>;

export interface DynamicTargetOptions {
  /** Chooses per request; wins over `header` and `host`. */
  select?: TargetSelect;
  /** Routes by this request header's value, looked up in `targets`. */
  header?: string;
  /** Routes by the request's Host (as sent, then without its port), looked up in `targets`. */
  host?: boolean;
  /** For `header` or `host`: value → backend URL(s). */
  targets?: TargetMap;
  /**
   * When nothing is named (no `select` answer, no header, no entry in `targets`): `'all'` balances
   * over every backend of the service, `'none'` answers 503 `no_backend_available`. Default `'all'`.
   */
  fallback?: 'all' | 'none';
  /** Which of the named backends takes the request; round robin by default. */
  balancer?: BalancerFactory;
  /** A name for logs and gateway.routes(); `dynamic-target` by default. */
  name?: string;
}

/** A configured backend's two spellings: as configured (trailing slashes trimmed) and its origin. */
const spellings = (backend: Backend): string[] => [backend.origin.toLowerCase(), `${backend.origin.toLowerCase()}${backend.basePath}`];

const normalized = (target: string): string | undefined => {
  try {
    const url = new URL(target);
    return `${url.origin.toLowerCase()}${url.pathname.replace(/\/+$/, '')}`;
  } catch {
    return undefined;
  }
};

/**
 * The backends a request's named targets stand for, among the configured ones only: a name no
 * backend of the service has gives no candidate (503), never a connection to that name.
 */
export const byTarget = (select: TargetSelect, { fallback = 'all', name = 'target' }: { fallback?: 'all' | 'none'; name?: string } = {}): Strategy => {
  const indexes = new WeakMap<readonly Backend[], Map<string, Backend[]>>();
  const indexOf = (backends: readonly Backend[]): Map<string, Backend[]> => {
    let index = indexes.get(backends);
    if (index === undefined) {
      index = new Map();
      for (const backend of backends) {
        for (const spelling of new Set(spellings(backend))) {
          const list = index.get(spelling);
          if (list === undefined) index.set(spelling, [backend]);
          else list.push(backend);
        }
      }
      indexes.set(backends, index);
    }
    return index;
  };
  return {
    name,
    route(request, backends) {
      const named = select(request);
      if (named === undefined || (typeof named !== 'string' && named.length === 0)) return { key: undefined, candidates: fallback === 'all' ? backends : [] };
      const index = indexOf(backends);
      const candidates = new Set<Backend>();
      for (const target of typeof named === 'string' ? [named] : named) {
        const key = normalized(target);
        for (const backend of (key === undefined ? undefined : index.get(key)) ?? []) candidates.add(backend);
      }
      return { key: undefined, candidates: [...candidates] };
    },
  };
};

const lookup = (targets: TargetMap, value: string | undefined): string | readonly string[] | undefined =>
  value === undefined || !Object.hasOwn(targets, value) ? undefined : targets[value];

/** The select function of a header or Host mapping. */
const mapped = ({ header, host, targets = {} }: DynamicTargetOptions): TargetSelect | undefined => {
  if (header !== undefined) {
    const lower = header.toLowerCase();
    return (request) => lookup(targets, request.headers.get(lower));
  }
  if (host === true) {
    const lowered: TargetMap = Object.fromEntries(Object.entries(targets).map(([name, target]) => [name.toLowerCase(), target]));
    return (request) => {
      const value = request.headers.get('host')?.toLowerCase();
      if (value === undefined) return undefined;
      return lookup(lowered, value) ?? lookup(lowered, value.replace(/:\d+$/, ''));
    };
  }
  return undefined;
};

/**
 * Chooses the backend per request — by a function, a header or the Host — among the service's
 * configured backends only, then balances over the chosen ones (http-proxy-middleware's
 * `router`, without its URL-from-the-request risk). A target that names no configured backend
 * answers 503 `no_backend_available`.
 * @example
 * createGateway({ policies: { tenant: dynamicTarget({ header: 'x-tenant', targets: { acme: 'http://acme:8080', globex: 'http://globex:8080' } }) } })
 */
export const dynamicTarget = (options: DynamicTargetOptions): Policy => {
  const select = options.select ?? mapped(options);
  if (select === undefined) throw new TypeError('dynamicTarget() needs `select`, `header` or `host: true`');
  const name = options.name ?? 'dynamic-target';
  return policy({ name, strategy: byTarget(select, { fallback: options.fallback ?? 'all', name }), balancer: options.balancer ?? roundRobinBalancer() });
};
