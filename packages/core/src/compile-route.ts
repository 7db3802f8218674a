import type { BuildProblem } from '@apigate/errors';
import type { Chain } from './middleware.ts';
import { parseTemplate, type Segment } from './path-template.ts';
import type { Backend, PolicyInstance } from './policy.ts';
import type { RouteInput } from './input.ts';
import type { Hook, RouteInfo } from './request.ts';
import { compileRewrite, type Rewrite } from './rewrite.ts';
import type { Route, Service } from './routes.ts';
import { originForm, unsafeInUri } from './target.ts';
import type { RouteUpstream } from './upstream.ts';

/** A route as the gateway runs it: checked, its templates parsed and its middleware chained. */
export interface CompiledRoute {
  readonly info: RouteInfo;
  readonly names: readonly string[];
  readonly hooks: readonly Hook[];
  readonly rewrite: Rewrite;
  readonly toQuery: string;
  readonly balancer: PolicyInstance;
  /** The service's backends: the only ones a retry may go to. */
  readonly backends: readonly Backend[];
  readonly input: RouteInput | undefined;
  /** The middleware of the gateway, the route's service and the route. */
  readonly chain: Chain;
  /** The last name is a catch-all's. */
  readonly tail: boolean;
  /** No hooks, no parameters and no input stage: match, pick, stream. */
  readonly passthrough: boolean;
  readonly upstream: RouteUpstream | undefined;
}

/** A parsed template written back: `/sales/item/{id}`, `/files/{*rest}`. */
export const templateOf = (segments: readonly Segment[]): string =>
  `/${segments.map((s) => (s.kind === 'static' ? s.value : s.kind === 'param' ? `{${s.name}}` : `{*${s.name}}`)).join('/')}`;

export interface RouteToCompile {
  readonly service: Service<never>;
  readonly prefix: readonly Segment[];
  readonly route: Route<never>;
  readonly at: string;
  readonly problems: BuildProblem[];
  readonly chain: Chain;
}

export const compileRoute = ({ service, prefix, route, at, problems, chain }: RouteToCompile): (Omit<CompiledRoute, 'balancer' | 'backends' | 'upstream'> & { segments: Segment[]; implied: string }) | undefined => {
  let own: Segment[];
  try {
    own = parseTemplate(route.path);
  } catch (error) {
    problems.push({ code: 'invalid_path', at, message: (error as Error).message });
    return undefined;
  }
  const segments = [...prefix, ...own];
  const names = segments.flatMap((segment) => (segment.kind === 'static' ? [] : [segment.name]));
  if (new Set(names).size !== names.length) {
    problems.push({ code: 'invalid_path', at, message: 'a parameter name appears twice' });
    return undefined;
  }
  const tail = own.findIndex((segment) => segment.kind === 'tail');
  if (tail !== -1 && tail !== own.length - 1) {
    problems.push({ code: 'invalid_path', at, message: `a catch-all {*${(own[tail] as { name: string }).name}} must be the last segment of the path` });
    return undefined;
  }
  let to: Segment[] | undefined;
  let toQuery = '';
  if (route.to !== undefined) {
    const q = route.to.indexOf('?');
    const toPath = q === -1 ? route.to : route.to.slice(0, q);
    toQuery = q === -1 ? '' : route.to.slice(q + 1);
    try {
      if (!originForm.test(toPath)) throw new Error(`"to" must be a path starting with a single "/", got "${route.to}"`);
      if (/[{}]/.test(toQuery)) throw new Error(`"to" substitutes parameters in its path only, not in its query: "${route.to}"`);
      if (unsafeInUri.test(route.to) || route.to.includes('#')) throw new Error(`"to" has whitespace, a control character, a backslash or a fragment: ${JSON.stringify(route.to)}`);
      to = parseTemplate(toPath);
    } catch (error) {
      problems.push({ code: 'invalid_path', at, message: (error as Error).message });
      return undefined;
    }
    // A catch-all is written `{*rest}` in `to` as in the path: the two substitute differently.
    const kinds = new Map(segments.flatMap((segment) => (segment.kind === 'static' ? [] : [[segment.name, segment.kind] as const])));
    const unknown = to.filter((segment) => segment.kind !== 'static' && kinds.get(segment.name) !== segment.kind);
    if (unknown.length > 0) {
      const written = unknown
        .map((s) => {
          const { name } = s as { name: string };
          const own = s.kind === 'tail' ? `{*${name}}` : `{${name}}`;
          return kinds.has(name) ? `${own} (the path has ${kinds.get(name) === 'tail' ? `{*${name}}` : `{${name}}`})` : own;
        })
        .join(', ');
      problems.push({ code: 'unknown_parameter', at, message: `"to" names ${written}, which the path lacks` });
      return undefined;
    }
  }
  const path = templateOf(segments);
  const hooks = route.before as readonly Hook[];
  return {
    info: { service: service.name, method: route.method, path },
    implied: templateOf(own),
    names,
    tail: tail !== -1,
    hooks,
    // The prefix as the router matched it: `/sales/`, `//sales` or `/sales//v1` cut the raw path
    // by their parsed segments, not by the declared string's length.
    rewrite: compileRewrite(prefix.map((segment) => `/${(segment as { value: string }).value}`).join(''), to),
    toQuery,
    input: route.input,
    chain,
    passthrough: hooks.length === 0 && chain.request.length === 0 && names.length === 0 && route.input === undefined,
    segments,
  };
};
