// Type tests, checked by `tsc -p tsconfig.json --noEmit`; nothing here runs.
import { expectTypeOf } from 'expect-type';
import { createGateway, get, service, type Gateway } from '@apigate/core';
import { Hono, type ExecutionContext, type MiddlewareHandler } from 'hono';
import { workerGateway, type WorkerGateway } from '../src/index.ts';

type Bindings = { readonly UPSTREAM: string; readonly AUTH_SERVICE: { fetch: typeof fetch } };
const api = service({ prefix: '/api' }, [get('/x')]);

// The env's type comes from the build's parameter, and types the Worker's fetch and Hono's Bindings.
const gw = workerGateway((env: Bindings) => {
  expectTypeOf(env.UPSTREAM).toEqualTypeOf<string>();
  return createGateway().mount(api, [env.UPSTREAM, 'binding://AUTH_SERVICE']).build();
});
expectTypeOf(gw).toEqualTypeOf<WorkerGateway<Bindings>>();
expectTypeOf(gw.fetch).parameters.toEqualTypeOf<[Request, Bindings, ExecutionContext]>();
expectTypeOf(gw.middleware).toEqualTypeOf<MiddlewareHandler<{ Bindings: Bindings }>>();

// An explicit type argument checks the build against it.
workerGateway<Bindings>((env) => createGateway().mount(api, [env.UPSTREAM]).build());
// @ts-expect-error: a binding the env does not declare
workerGateway<Bindings>((env) => createGateway().mount(api, [env.MISSING]).build());

// An async build (a route table from KV) is fine; a build that returns no gateway is not.
workerGateway(async (env: Bindings): Promise<Gateway> => createGateway().mount(api, [env.UPSTREAM]).build());
// @ts-expect-error: the build must return a gateway
workerGateway((env: Bindings) => env.UPSTREAM);

// The middleware goes on an app with the same Bindings; the fetch is a module Worker's.
const app = new Hono<{ Bindings: Bindings }>();
app.use(gw.middleware);
export default { fetch: gw.fetch } satisfies { fetch: (request: Request, env: Bindings, ctx: ExecutionContext) => Promise<Response> };
// @ts-expect-error: a Worker whose env lacks UPSTREAM cannot call it
void gw.fetch(new Request('https://x'), { AUTH_SERVICE: { fetch } }, {} as ExecutionContext);
