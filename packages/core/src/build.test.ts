import { GatewayBuildError, type BuildProblem } from '@apigate/errors';
import { describe, expect, it } from '@jest/globals';
import { createGateway, del, get, head, post, service, type ForwardPlan, type GatewayBuilder, type Policy } from './index.ts';
import { asForward, run } from './test-utils/index.ts';

const buildProblems = (builder: GatewayBuilder<object>): BuildProblem[] => {
  try {
    builder.build();
  } catch (error) {
    expect(error).toBeInstanceOf(GatewayBuildError);
    return [...(error as GatewayBuildError).problems];
  }
  throw new Error('build() did not throw');
};
const summary = (problems: readonly BuildProblem[]): string[] => problems.map((p) => `${p.code} @ ${p.at ?? '-'}`);
const ok = 'http://127.0.0.1:9';
const nonLiteral = (path: string): string => path;
const recording: Policy = { name: 'recording', create: () => ({ pick: () => undefined }) };

describe('build()', () => {
  it('throws one GatewayBuildError that lists every problem at once', () => {
    const problems = buildProblems(
      createGateway({ backends: { ghost: [ok], orphan: [] }, policies: { recording }, defaultPolicy: 'missing-default' })
        .mount(service({ name: 'orphan', prefix: '/orphan' }, [get('/x', { policy: 'recording' })]))
        .mount(service({ name: 'bad-urls', prefix: '/urls', policy: 'missing-service' }, [get('/x')]), ['not a url', 'ftp://files.example', 'http://a.example/?q=1', ok])
        .mount(
          service({ name: 'routes', prefix: '/r' }, [
            get('/a/{x}', { policy: 'missing-route' }),
            get('/a/{y}', { policy: 'recording' }),
            get(nonLiteral('/u/{id}'), { to: '/v/{other}', policy: 'recording' }),
            get('no-slash', { policy: 'recording' }),
            get('/open/{brace', { policy: 'recording' }),
          ]),
          [ok],
        )
        .mount(service({ name: 'prefixed', prefix: 'no-slash' }, [get('/p', { policy: 'recording' })]), [ok]),
    );
    expect(summary(problems)).toEqual([
      'unknown_policy @ -',
      'unknown_backend @ service orphan',
      'invalid_backend_url @ service bad-urls',
      'invalid_backend_url @ service bad-urls',
      'invalid_backend_url @ service bad-urls',
      'unknown_policy @ service bad-urls',
      'unknown_policy @ service routes GET /a/{x}',
      'duplicate_route @ service routes GET /a/{y}',
      'unknown_parameter @ service routes GET /u/{id}',
      'invalid_path @ service routes GET no-slash',
      'invalid_path @ service routes GET /open/{brace',
      'invalid_prefix @ service prefixed',
      'unknown_backend @ backends.ghost',
    ]);
    expect(problems[0]!.message).toBe('default policy "missing-default" is not registered');
  });

  it('lists every problem in the error message', () => {
    const problems = buildProblems(createGateway().mount(service({ name: 'a' }, [get('/x'), get('/x')])));
    expect(problems.map((p) => p.code)).toEqual(['unknown_backend', 'duplicate_route']);
    try {
      createGateway().mount(service({ name: 'a' }, [get('/x'), get('/x')])).build();
    } catch (error) {
      expect((error as Error).message).toBe(
        'gateway configuration has 2 problems:\n' +
          '  - [unknown_backend] service a: no backends given at mount() nor registered for "a"\n' +
          '  - [duplicate_route] service a GET /x: another route already answers GET /x',
      );
    }
  });

  describe('unknown_backend', () => {
    it('when a service is mounted without backends and none are registered under its name', () => {
      expect(summary(buildProblems(createGateway().mount(service({ name: 'sales' }, [get('/a')]))))).toEqual(['unknown_backend @ service sales']);
      expect(summary(buildProblems(createGateway().mount(service({ name: 'sales' }, [get('/a')]), [])))).toEqual(['unknown_backend @ service sales']);
      expect(summary(buildProblems(createGateway({ backends: { toString: [ok] } }).mount(service({ name: 'constructor' }, [get('/a')]))))).toEqual([
        'unknown_backend @ service constructor',
        'unknown_backend @ backends.toString',
      ]);
    });

    it('when backends are registered for a name no mounted service has', () => {
      expect(summary(buildProblems(createGateway({ backends: { sales: [ok], stock: [ok] } }).mount(service({ name: 'sales' }, [get('/a')]))))).toEqual([
        'unknown_backend @ backends.stock',
      ]);
    });

    it('not when the backends are registered under the service name', () => {
      const gateway = createGateway({ backends: { sales: [ok] } }).mount(service({ prefix: '/sales/' }, [get('/a')])).build();
      expect(gateway.match('GET', '/sales/a')?.route?.service).toBe('sales');
    });
  });

  describe('unknown_policy', () => {
    it('for a route, a service and the default policy, each reported once', () => {
      const problems = buildProblems(
        createGateway({ defaultPolicy: 'nope' })
          .mount(service({ name: 's', policy: 'svc' }, [get('/a'), get('/b'), get('/c', { policy: 'route' })]), [ok])
          .mount(service({ name: 't', prefix: '/t' }, [get('/a'), get('/b')]), [ok]),
      );
      expect(summary(problems)).toEqual(['unknown_policy @ -', 'unknown_policy @ service s', 'unknown_policy @ service s GET /c']);
      expect(problems.map((p) => p.message)).toEqual([
        'default policy "nope" is not registered',
        'policy "svc" is not registered',
        'policy "route" is not registered',
      ]);
    });

    it('not for an inherited name of Object.prototype', () => {
      expect(summary(buildProblems(createGateway().mount(service({ name: 's' }, [get('/a', { policy: 'toString' })]), [ok])))).toEqual([
        'unknown_policy @ service s GET /a',
      ]);
    });
  });

  describe('duplicate_route', () => {
    it('for the same method and shape, whatever the parameter names, within and across services', () => {
      const problems = buildProblems(
        createGateway()
          .mount(service({ name: 'a', prefix: '/a' }, [get('/{x}'), get('/{y}'), post('/{y}'), get('/b/'), get('/b'), del('/c//d')]), [ok])
          .mount(service({ name: 'b' }, [get('/a/{z}'), get('/a/c/d'), del('/a/c/d')]), [ok]),
      );
      expect(summary(problems)).toEqual(['duplicate_route @ service a GET /{y}', 'duplicate_route @ service a GET /b', 'duplicate_route @ service b GET /a/{z}', 'duplicate_route @ service b DELETE /a/c/d']);
      expect(problems[0]!.message).toBe('another route already answers GET /a/{y}');
    });

    it('not for GET beside HEAD, nor a static segment beside a parameter', () => {
      expect(() =>
        createGateway()
          .mount(service({ name: 'a' }, [get('/x'), head('/x'), post('/x'), get('/{id}'), get('/new')]), [ok])
          .build(),
      ).not.toThrow();
    });
  });

  describe('invalid_backend_url', () => {
    it.each([
      ['not a url', 'Invalid URL'],
      ['127.0.0.1:8080', 'Invalid URL'],
      ['ftp://files.example', 'only http:, https:, http+unix: and binding: backends are supported'],
      ['file:///etc/passwd', 'only http:, https:, http+unix: and binding: backends are supported'],
      ['http://a.example/?q=1', 'a backend URL has no query, fragment or credentials'],
      ['http://a.example/#top', 'a backend URL has no query, fragment or credentials'],
      ['http://user:secret@a.example/', 'a backend URL has no query, fragment or credentials'],
      ['binding://AUTH-SERVICE', 'a binding: backend is binding://NAME'],
      ['binding://AUTH:80', 'a binding: backend is binding://NAME'],
      ['binding:AUTH', 'a binding: backend is binding://NAME'],
      ['binding://AUTH?v=1', 'a backend URL has no query, fragment or credentials'],
    ])('for %j', (url, reason) => {
      const problems = buildProblems(createGateway().mount(service({ name: 's' }, [get('/a')]), [url]));
      expect(summary(problems)).toEqual(['invalid_backend_url @ service s']);
      expect(problems[0]!.message).toContain(JSON.stringify(url));
      expect(problems[0]!.message).toContain(reason);
    });

    it.each([
      [{ url: 'http://a.example', tls: { ca: 'pem' } }, 'tls options are for https: backends'],
      [{ url: 'https://a.example', tls: { ca: 1 } }, 'tls.ca is PEM text or bytes'],
      [{ url: 'https://a.example', tls: { cert: 'pem' } }, 'tls.cert and tls.key go together'],
      [{ url: 'https://a.example', tls: { verify: false } }, 'tls.verify is not a TLS option'],
      [{ url: 'https://a.example', tls: { rejectUnauthorized: 'no' } }, 'tls.rejectUnauthorized is a boolean'],
      [{ url: 'https://a.example', tls: { servername: '' } }, 'tls.servername is a non-empty host name'],
      [{ url: 'https://a.example', tls: 'insecure' }, 'tls is an object'],
      [{ url: 'http://a.example', socketPath: 'relative.sock' }, 'socketPath is an absolute path'],
      [{ url: 'http+unix://%2Ftmp%2Fa.sock', socketPath: '/tmp/b.sock' }, 'not both'],
      [{ url: 'ftp+unix://%2Ftmp%2Fa.sock' }, 'only http:, https:, http+unix: and binding: backends are supported'],
    ])('for TLS and socket options that cannot work: %j', (input, reason) => {
      const problems = buildProblems(createGateway().mount(service({ name: 's' }, [get('/a')]), [input as never]));
      expect(summary(problems)).toEqual(['invalid_backend_url @ service s']);
      expect(problems[0]!.message).toContain(reason);
    });

    it('reads an http+unix: URL as a socket path, with localhost as the Host and the rest as the base path', async () => {
      const gateway = createGateway()
        .mount(service({ name: 's', prefix: '/s' }, [get('/a')]), ['http+unix://%2Fvar%2Frun%2Fapp.sock/v1', { url: 'https://api.internal/v2', socketPath: '/run/b.sock', tls: { ca: 'PEM', servername: 'api.internal' } }])
        .build();
      const backends = [asForward(await run(gateway, 'GET /s/a')).backend, asForward(await run(gateway, 'GET /s/a')).backend];
      expect(backends).toEqual([
        { url: 'http+unix://%2Fvar%2Frun%2Fapp.sock/v1', origin: 'http://localhost', basePath: '/v1', weight: 1, socketPath: '/var/run/app.sock' },
        { url: 'https://api.internal/v2', origin: 'https://api.internal', basePath: '/v2', weight: 1, socketPath: '/run/b.sock', tls: { ca: 'PEM', servername: 'api.internal' } },
      ]);
    });

    it('for a weight that is not a positive finite number', () => {
      for (const weight of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        const problems = buildProblems(createGateway().mount(service({ name: 's' }, [get('/a')]), [{ url: ok, weight }]));
        expect(summary(problems)).toEqual(['invalid_backend_url @ service s']);
      }
    });
  });

  describe('unknown_parameter', () => {
    it('when a `to` names a parameter a non-literal path lacks', () => {
      const problems = buildProblems(
        createGateway().mount(service({ name: 's', prefix: '/s' }, [get(nonLiteral('/u/{id}'), { to: '/v/{id}/{other}/{more}' })]), [ok]),
      );
      expect(summary(problems)).toEqual(['unknown_parameter @ service s GET /u/{id}']);
      expect(problems[0]!.message).toBe('"to" names {other}, {more}, which the path lacks');
    });

    it('when a `to` writes a catch-all as a parameter or a parameter as a catch-all', () => {
      const problems = buildProblems(
        createGateway().mount(
          service({ name: 's' }, [get(nonLiteral('/f/{*rest}'), { to: nonLiteral('/g/{rest}') }), get(nonLiteral('/u/{id}'), { to: nonLiteral('/v/{*id}') })]),
          [ok],
        ),
      );
      expect(summary(problems)).toEqual(['unknown_parameter @ service s GET /f/{*rest}', 'unknown_parameter @ service s GET /u/{id}']);
      expect(problems.map((p) => p.message)).toEqual(['"to" names {rest} (the path has {*rest}), which the path lacks', '"to" names {*id} (the path has {id}), which the path lacks']);
    });
  });

  describe('invalid_path', () => {
    it.each([
      ['no-slash', 'must start with "/"'],
      ['/a/{b', 'is not a {param} or {*param} segment'],
      ['/a/b}', 'is not a {param} or {*param} segment'],
      ['/a/x{y}', 'is not a {param} or {*param} segment'],
      ['/a/{1x}', 'is not a {param} or {*param} segment'],
      ['/a/{}', 'is not a {param} or {*param} segment'],
      ['/a/{x-y}', 'is not a {param} or {*param} segment'],
      ['/a/../b', 'has a dot segment'],
      ['/a/./b', 'has a dot segment'],
      ['/a/{__proto__}', 'is not allowed as a parameter name'],
      ['/a/{x}/{x}', 'a parameter name appears twice'],
      ['/a/{x}/{*x}', 'a parameter name appears twice'],
      ['/a/{*rest}/b', 'a catch-all {*rest} must be the last segment of the path'],
      ['/a/{*rest}/{*more}', 'a catch-all {*rest} must be the last segment of the path'],
      ['/a/{**rest}', 'is not a {param} or {*param} segment'],
      ['/a/{*}', 'is not a {param} or {*param} segment'],
      ['/a/*', 'has a wildcard "*": the rest of a path is written {*name}'],
      ['/a/**', 'has a wildcard "**"'],
    ])('for the path %j', (path, reason) => {
      const problems = buildProblems(createGateway().mount(service({ name: 's' }, [get(nonLiteral(path))]), [ok]));
      expect(summary(problems)).toEqual([`invalid_path @ service s GET ${path}`]);
      expect(problems[0]!.message).toContain(reason);
    });

    it.each([['http://evil.example/x'], ['//evil.example/x'], ['/\\evil.example'], ['/a\\..\\b'], ['relative'], ['/a/../b'], ['/a/{b'], ['/a b'], ['/a\r\nx'], ['/a#fragment'], ['/a?id={b}']])('for the `to` %j', (to) => {
      const problems = buildProblems(createGateway().mount(service({ name: 's' }, [get('/a/{b}', { to: nonLiteral(to) })]), [ok]));
      expect(summary(problems)).toEqual(['invalid_path @ service s GET /a/{b}']);
    });
  });

  describe('invalid_prefix', () => {
    it.each([['sales'], ['/sales/{id}'], ['/sales/{*rest}'], ['/sales/..'], ['/sa{les']])('for the prefix %j, still checking the service backends and routes', (prefix) => {
      const problems = buildProblems(createGateway().mount(service({ name: 's', prefix }, [get('/a', { policy: 'nope' }), get('bad')]), ['ftp://x']));
      expect(summary(problems)).toEqual(['invalid_prefix @ service s', 'invalid_backend_url @ service s', 'unknown_policy @ service s GET /a', 'invalid_path @ service s GET bad']);
    });
  });

  describe('invalid_option', () => {
    it('when two mounted services have the same name', () => {
      const problems = buildProblems(
        createGateway()
          .mount(service({ name: 'same', prefix: '/a' }, [get('/x')]), [ok])
          .mount(service({ name: 'same', prefix: '/b' }, [get('/x')]), [ok]),
      );
      expect(summary(problems)).toEqual(['invalid_option @ service same']);
    });

    it('for timeouts and pool sizes that are not positive numbers, and trusted proxies that are not addresses', () => {
      const problems = buildProblems(
        createGateway({
          upstream: {
            connectTimeout: 0,
            requestTimeout: Number.NaN,
            clientTimeout: Number.POSITIVE_INFINITY,
            idleTimeout: -1,
            maxIdleSockets: 0,
            trustedProxies: ['10.0.0.0/8', '::1', 'fd00::/8', 'localhost', '10.0.0.256', '10.0.0.0/33', 'fd00::/129', '1.2.3', '1.2.3.4/8/1'],
          },
        }).mount(service({ name: 's' }, [get('/x')]), [ok]),
      );
      expect(summary(problems)).toEqual([
        'invalid_option @ upstream.connectTimeout',
        'invalid_option @ upstream.requestTimeout',
        'invalid_option @ upstream.clientTimeout',
        'invalid_option @ upstream.idleTimeout',
        'invalid_option @ upstream.maxIdleSockets',
        ...Array.from({ length: 6 }, () => 'invalid_option @ upstream.trustedProxies'),
      ]);
      expect(problems.at(-6)!.message).toBe('"localhost" is not an IP address or CIDR range');
    });

    it('for a route meta that is not a plain object', () => {
      const problems = buildProblems(
        createGateway().mount(service({ name: 's' }, [get('/a', { meta: nonLiteral('x') as never }), get('/b', { meta: [] as never }), get('/c', { meta: { ok: true } })]), [ok]),
      );
      expect(summary(problems)).toEqual(['invalid_option @ service s GET /a', 'invalid_option @ service s GET /b']);
    });

    it("for a route's upstream timeouts that are not positive numbers, and settings a route cannot have", () => {
      const problems = buildProblems(
        createGateway().mount(
          service({ name: 's' }, [
            get('/poll', { upstream: { requestTimeout: 0, clientTimeout: Number.NaN } }),
            get('/pool', { upstream: { idleTimeout: 5 } as never }),
            get('/fine', { upstream: { requestTimeout: 120_000 } }),
            get('/cf', { upstream: { cf: 'cacheTtl=60' as never } }),
            get('/cf-list', { upstream: { cf: [60] as never } }),
            get('/cached', { upstream: { cf: { cacheTtl: 60, cacheKey: 'items' } } }),
          ]),
          [ok],
        ),
      );
      expect(summary(problems)).toEqual([
        'invalid_option @ service s GET /poll upstream.requestTimeout',
        'invalid_option @ service s GET /poll upstream.clientTimeout',
        'invalid_option @ service s GET /pool upstream.idleTimeout',
        'invalid_option @ service s GET /cf upstream.cf',
        'invalid_option @ service s GET /cf-list upstream.cf',
      ]);
      expect(problems[2]!.message).toBe('is not a per-route upstream setting (requestTimeout, clientTimeout, cf)');
      expect(problems[3]!.message).toBe('must be an object of Cloudflare fetch options such as { cacheTtl: 60 }');
    });

    it('not for an unlimited idle pool', () => {
      expect(() => createGateway({ upstream: { maxIdleSockets: Number.POSITIVE_INFINITY } }).mount(service({ name: 's' }, [get('/x')]), [ok]).build()).not.toThrow();
    });
  });

  it("carries a route's own upstream timeouts on its forward plan, and none for the other routes", async () => {
    const gateway = createGateway({ upstream: { requestTimeout: 1_000 } })
      .mount(service({ name: 's', prefix: '/s' }, [get('/events', { upstream: { requestTimeout: 300_000 } }), get('/a')]), [ok])
      .build();
    const events = (await run(gateway, 'GET /s/events')) as ForwardPlan;
    const plain = (await run(gateway, 'GET /s/a')) as ForwardPlan;
    expect(events.upstream).toEqual({ requestTimeout: 300_000 });
    expect(plain.upstream).toBeUndefined();
  });

  it("carries a route's cf fetch options on its forward plan as given", async () => {
    const cf = { cacheTtl: 60, cacheKey: 'items' };
    const gateway = createGateway().mount(service({ name: 's', prefix: '/s' }, [get('/items', { upstream: { cf } })]), [ok]).build();
    expect(((await run(gateway, 'GET /s/items')) as ForwardPlan).upstream).toEqual({ cf });
  });

  it('takes a binding:// backend, its name as written and its base path, as the origin and base path of the plan', async () => {
    const gateway = createGateway()
      .mount(service({ name: 's', prefix: '/s' }, [get('/a')]), ['binding://AUTH_SERVICE/v1/'])
      .build();
    const plan = (await run(gateway, 'GET /s/a?x=1')) as ForwardPlan;
    expect([plan.backend.origin, plan.backend.basePath, plan.uri]).toEqual(['binding://AUTH_SERVICE', '/v1', '/v1/a?x=1']);
  });

  it('builds a valid configuration with the upstream defaults filled in', () => {
    const gateway = createGateway({ upstream: { requestTimeout: 1_000, connectTimeout: undefined } })
      .mount(service({ name: 's' }, [get('/a')]), [ok])
      .build();
    expect(gateway.upstream).toMatchObject({ connectTimeout: 5_000, requestTimeout: 1_000, clientTimeout: 60_000, idleTimeout: 4_000, noDelay: true, preserveHost: false });
  });
});
