// Type tests, checked by `tsc -p tsconfig.json --noEmit`; nothing here runs.
import { createGateway, defineRoutes, get, service, type Middleware, type ProvidedBy } from '@apigate/core';
import { expectTypeOf } from 'expect-type';
import type { JWTPayload } from 'jose';
import { jwt, requireScopes } from '../index.ts';

const secret = 'not a real secret';

// Route level: the route's hooks read the claims typed.
get('/me', {
  use: [jwt({ secret })],
  before: (ctx) => {
    expectTypeOf(ctx.get('claims')).toEqualTypeOf<JWTPayload | undefined>();
    expectTypeOf(ctx.get('claims')?.sub).toEqualTypeOf<string | undefined>();
  },
});

// Own claims: the type parameter is what the hooks see.
type Claims = JWTPayload & { tenant: string; roles: readonly string[] };
const auth = jwt<Claims>({ secret, requiredClaims: ['tenant'] });
service({ prefix: '/account', use: [auth] }, ({ get }) => [
  get('/', {
    before: (ctx) => {
      expectTypeOf(ctx.get('claims')?.tenant).toEqualTypeOf<string | undefined>();
    },
  }),
]);

// Gateway level: routes say in their Env what it provides.
type BehindAuth = { scope: ProvidedBy<typeof auth> };
expectTypeOf<ProvidedBy<typeof auth>>().toEqualTypeOf<{ readonly claims: Claims }>();
const admin = service({ prefix: '/admin' }, [defineRoutes<BehindAuth>().get('/', { before: (ctx) => void expectTypeOf(ctx.get('claims')?.roles).toEqualTypeOf<readonly string[] | undefined>() })]);
createGateway({ use: [auth] }).mount(admin, ['http://admin:8080']);

// A typed jwt() and requireScopes() still fit wherever middleware go.
const plain: Middleware[] = [jwt({ secret }), requireScopes(['read'])];
void plain;

// A hook reading `claims` as a string is a compile error where jwt() is attached.
type Wrong = { scope: { claims: string } };
// @ts-expect-error the Env declares claims as a string; jwt() provides an object
defineRoutes<Wrong>().get('/c', { use: [jwt({ secret })] });
