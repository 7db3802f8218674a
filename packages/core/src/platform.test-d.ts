// Type tests, checked by `tsc -p tsconfig.json --noEmit`; nothing here runs.
import { expectTypeOf } from 'expect-type';
import { defineRoutes, type Middleware, type Platform, type SettleEvent } from './index.ts';

type Bindings = { readonly KV_URL: string; readonly RATE: number };
type WorkerEnv = { bindings: Bindings };

// A typed Env gives the request phase its bindings, as Hono's `Bindings` type `c.env`.
const { get } = defineRoutes<WorkerEnv>();
get('/x', {
  before: (ctx) => {
    expectTypeOf(ctx.platform).toEqualTypeOf<Platform<Bindings>>();
    expectTypeOf(ctx.platform.env.KV_URL).toEqualTypeOf<string>();
    // @ts-expect-error: a binding the Env does not declare
    void ctx.platform.env.MISSING;
  },
});

const typed: Middleware<WorkerEnv> = {
  name: 'typed',
  request: (ctx) => void expectTypeOf(ctx.platform.env.RATE).toEqualTypeOf<number>(),
  init: (ctx) => void expectTypeOf(ctx.report).toEqualTypeOf<(error: unknown) => void>(),
};
void typed;

// Without an Env, middleware reads an open record: reusable on any gateway.
const neutral: Middleware = { name: 'neutral', request: (ctx) => void expectTypeOf(ctx.platform.env).toEqualTypeOf<Readonly<Record<string, unknown>>>() };
void neutral;
expectTypeOf<SettleEvent['platform']['waitUntil']>().toEqualTypeOf<(promise: Promise<unknown>) => void>();
