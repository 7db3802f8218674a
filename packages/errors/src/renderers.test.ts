import { describe, expect, it } from '@jest/globals';
import {
  GatewayError,
  jsonRenderer,
  problemRenderer,
  renderError,
  resolveRenderer,
  respond,
  textRenderer,
  unauthorized,
  json,
  type ErrorRenderer,
  type GatewayResponse,
  type RenderContext,
} from './index.ts';

const context: RenderContext = { method: 'GET', path: '/sales/item/42' };
const validation = new GatewayError('bad_request', {
  message: 'The query is invalid.',
  details: { secret: 'stack and internals' },
  cause: new Error('db password hunter2'),
  headers: { 'x-request-id': 'r-1' },
  extensions: { issues: [{ path: ['page'], message: 'Expected number' }] },
});

const text = (response: GatewayResponse): string => (typeof response.body === 'string' ? response.body : '');

describe('textRenderer', () => {
  it('renders `code: message` as text/plain with the error status and headers', () => {
    expect(textRenderer(new GatewayError('not_found'), context)).toEqual({
      status: 404,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: 'not_found: No such resource.\n',
    });
    expect(textRenderer(validation, context)).toEqual({
      status: 400,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'x-request-id': 'r-1' },
      body: 'bad_request: The query is invalid.\n',
    });
  });
});

describe('jsonRenderer', () => {
  it('renders { error: { code, message, status } } as application/json', () => {
    expect(jsonRenderer(new GatewayError('upstream_timeout'), context)).toEqual({
      status: 504,
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: '{"error":{"code":"upstream_timeout","message":"The upstream did not respond in time.","status":504}}',
    });
  });

  it('passes extensions through beside code, message and status, which they cannot override', () => {
    const response = jsonRenderer(new GatewayError('too_many_requests', { extensions: { retryAfter: 3, code: 'spoofed', status: 200 }, headers: { 'Retry-After': '3' } }), context);
    expect(response.status).toBe(429);
    expect(response.headers).toEqual({ 'content-type': 'application/json; charset=utf-8', 'retry-after': '3' });
    expect(JSON.parse(text(response))).toEqual({ error: { retryAfter: 3, code: 'too_many_requests', message: 'Too many requests.', status: 429 } });
    expect(JSON.parse(text(jsonRenderer(validation, context)))).toEqual({
      error: { issues: [{ path: ['page'], message: 'Expected number' }], code: 'bad_request', message: 'The query is invalid.', status: 400 },
    });
  });
});

describe('problemRenderer', () => {
  it('renders RFC 9457 problem details as application/problem+json', () => {
    expect(problemRenderer()(new GatewayError('invalid_path'), context)).toEqual({
      status: 400,
      headers: { 'content-type': 'application/problem+json; charset=utf-8' },
      body: '{"type":"urn:apigate:error:invalid_path","title":"Bad Request","status":400,"detail":"The request path is not allowed.","instance":"/sales/item/42","code":"invalid_path"}',
    });
  });

  it('passes extensions such as `issues` through as extension members, which cannot override the standard ones', () => {
    const response = problemRenderer({ typeBase: 'https://docs.example/errors#' })(
      new GatewayError('bad_request', { message: 'The query is invalid.', extensions: { issues: [{ path: ['page'] }], type: 'spoofed', status: 200 } }),
      { method: 'POST', path: '/orders' },
    );
    expect(response.status).toBe(400);
    expect(JSON.parse(text(response))).toEqual({
      issues: [{ path: ['page'] }],
      type: 'https://docs.example/errors#bad_request',
      title: 'Bad Request',
      status: 400,
      detail: 'The query is invalid.',
      instance: '/orders',
      code: 'bad_request',
    });
  });

  it("renders an error's registered problem type: its type URI, title and members, which cannot override the standard ones", () => {
    const error = new GatewayError('rate_limited', {
      extensions: { retryAfter: 3 },
      problemType: { type: 'https://iana.org/assignments/http-problem-types#quota-exceeded', title: 'Quota exceeded', members: { 'violated-policies': ['burst'], status: 200, code: 'spoofed' } },
    });
    const response = problemRenderer({ typeBase: 'https://docs.example/errors#' })(error, context);
    expect(JSON.parse(text(response))).toEqual({
      retryAfter: 3,
      'violated-policies': ['burst'],
      type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
      title: 'Quota exceeded',
      status: 429,
      detail: 'The rate limit for this resource was reached.',
      instance: '/sales/item/42',
      code: 'rate_limited',
    });
    // The other renderers do not know problem types.
    expect(JSON.parse(text(jsonRenderer(error, context)))).toEqual({ error: { retryAfter: 3, code: 'rate_limited', message: 'The rate limit for this resource was reached.', status: 429 } });
  });

  it('gives each status its reason phrase as the title', () => {
    const titles = Object.fromEntries(
      (['payload_too_large', 'header_too_large', 'no_backend_available', 'upstream_unreachable', 'upstream_timeout'] as const).map((code) => [
        code,
        JSON.parse(text(problemRenderer()(new GatewayError(code), context))).title,
      ]),
    );
    expect(titles).toEqual({
      payload_too_large: 'Content Too Large',
      header_too_large: 'Request Header Fields Too Large',
      no_backend_available: 'Service Unavailable',
      upstream_unreachable: 'Bad Gateway',
      upstream_timeout: 'Gateway Timeout',
    });
  });
});

describe('every built-in renderer', () => {
  const renderers: [string, ErrorRenderer][] = [
    ['text', textRenderer],
    ['json', jsonRenderer],
    ['problem', problemRenderer()],
  ];

  it.each(renderers)('%s keeps details and cause out of the body', (_name, renderer) => {
    const body = text(renderer(validation, context));
    expect(body).not.toContain('hunter2');
    expect(body).not.toContain('stack and internals');
  });

  it.each(renderers)("%s keeps its own content type over the error's headers", (_name, renderer) => {
    const response = renderer(new GatewayError('bad_request', { headers: { 'Content-Type': 'text/html', 'x-kept': '1' } }), context);
    expect(response.headers['content-type']).not.toBe('text/html');
    expect(response.headers['x-kept']).toBe('1');
  });
});

describe('resolveRenderer', () => {
  it('resolves the built-ins by name, text by default, and a function as itself', () => {
    expect(resolveRenderer()).toBe(textRenderer);
    expect(resolveRenderer('text')).toBe(textRenderer);
    expect(resolveRenderer('json')).toBe(jsonRenderer);
    expect(resolveRenderer('problem')(new GatewayError('not_found'), context).headers['content-type']).toBe('application/problem+json; charset=utf-8');
    const custom: ErrorRenderer = (error) => respond(error.status, 'custom');
    expect(resolveRenderer(custom)).toBe(custom);
  });
});

describe('renderError', () => {
  it('uses a custom renderer function with the error and the request context', () => {
    const seen: unknown[] = [];
    const custom: ErrorRenderer = (error, ctx) => {
      seen.push(ctx);
      return json(error.status, { oops: error.code, at: ctx.path }, { 'x-custom': 'yes' });
    };
    const response = renderError(new GatewayError('forbidden'), context, custom);
    expect(seen).toEqual([context]);
    expect(response).toEqual({ status: 403, headers: { 'content-type': 'application/json; charset=utf-8', 'x-custom': 'yes' }, body: '{"oops":"forbidden","at":"/sales/item/42"}' });
  });

  it('falls back to the text renderer when the renderer throws', () => {
    const throwing: ErrorRenderer = () => {
      throw new Error('renderer bug');
    };
    expect(renderError(new GatewayError('upstream_reset'), context, throwing)).toEqual({
      status: 502,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: 'upstream_reset: The upstream closed the connection before responding.\n',
    });
  });

  it('falls back to the text renderer when the renderer returns no response', () => {
    const broken = (() => undefined) as unknown as ErrorRenderer;
    expect(renderError(new GatewayError('not_found'), context, broken).body).toBe('not_found: No such resource.\n');
  });

  it("sends the error's own response instead of rendering it", () => {
    const response = json(401, { login: '/login' });
    const renderer: ErrorRenderer = () => {
      throw new Error('must not be called');
    };
    expect(renderError(unauthorized('no token', { response }), context, renderer)).toBe(response);
    expect(renderError(unauthorized('no token', { response }), context, jsonRenderer)).toBe(response);
  });
});
