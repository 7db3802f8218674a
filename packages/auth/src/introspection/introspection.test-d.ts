// Type tests, checked by `tsc -p tsconfig.json --noEmit`; nothing here runs.
import { get, type ProvidedBy } from '@apigate/core';
import { expectTypeOf } from 'expect-type';
import { introspection, type IntrospectedClaims } from '../index.ts';

const options = { endpoint: 'https://idp.example/introspect', clientId: 'gateway', clientSecret: 'not a real secret' };

// The answer lands under `claims`, as jwt()'s claims do.
get('/me', {
  use: [introspection(options)],
  before: (ctx) => {
    expectTypeOf(ctx.get('claims')?.client_id).toEqualTypeOf<string | undefined>();
    expectTypeOf(ctx.get('claims')?.active).toEqualTypeOf<true | undefined>();
  },
});

type Tenant = IntrospectedClaims & { tenant: string };
const auth = introspection<Tenant>(options);
get('/t', { use: [auth] });
expectTypeOf<ProvidedBy<typeof auth>>().toEqualTypeOf<{ readonly claims: Tenant }>();
