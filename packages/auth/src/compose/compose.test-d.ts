// Type tests, checked by `tsc -p tsconfig.json --noEmit`; nothing here runs.
import { get, service, type Middleware, type ProvidedBy } from '@apigate/core';
import { expectTypeOf } from 'expect-type';
import type { JWTPayload } from 'jose';
import { allowPreflight, anyOf, apiKey, jwt, optional, signedCookies, type Consumer } from '../index.ts';

const keys = apiKey({ keys: [] });
const token = jwt({ secret: 'not a real secret' });

// apiKey() puts the consumer in scope, typed.
get('/k', {
  use: [keys],
  before: (ctx) => {
    expectTypeOf(ctx.get('consumer')).toEqualTypeOf<Consumer | undefined>();
    expectTypeOf(ctx.get('consumer')?.tier).toEqualTypeOf<string | undefined>();
  },
});

// An own consumer type.
type Tiered = Consumer & { readonly tier: 'free' | 'pro' };
expectTypeOf<ProvidedBy<typeof apiKey<Tiered>>>().toEqualTypeOf<{ readonly consumer: Tiered }>();

// anyOf() provides what each method does; optional() adds the (anonymous) consumer.
const either = anyOf(token, keys);
expectTypeOf<ProvidedBy<typeof either>>().toEqualTypeOf<{ readonly claims: JWTPayload; readonly consumer: Consumer }>();
service({ prefix: '/v1', use: [allowPreflight(optional(either))] }, ({ get }) => [
  get('/', {
    before: (ctx) => {
      expectTypeOf(ctx.get('claims')?.sub).toEqualTypeOf<string | undefined>();
      expectTypeOf(ctx.get('consumer')?.anonymous).toEqualTypeOf<boolean | undefined>();
    },
  }),
]);
expectTypeOf<ProvidedBy<ReturnType<typeof optional<object, { readonly claims: JWTPayload }>>>>().toHaveProperty('consumer');

// signedCookies() provides the verified values by name.
get('/c', { use: [signedCookies({ keys: ['k'.repeat(32)], names: ['session'] })], before: (ctx) => void expectTypeOf(ctx.get('signedCookies')).toEqualTypeOf<Readonly<Record<string, string>> | undefined>() });

// Composites fit wherever middleware go.
const plain: Middleware[] = [either, optional(keys), allowPreflight(token)];
void plain;
