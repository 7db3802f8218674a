import { describe, expect, it } from '@jest/globals';
import { adapterNames, describeAdapters } from './adapters.ts';
import { send } from './client.ts';
import { conform } from './divergences.ts';
import type { Echo } from './upstreams.ts';

/**
 * The same gateway with the framework's JSON body parser in front (DESIGN.md rule 3): the adapter
 * hands the parsed body to the pipeline, and the upstream gets a correct body with the right
 * Content-Length — never a hung or empty request. Only valid bodies: how each framework's own
 * parser refuses bad JSON (its own 400/415, before the gateway) is the framework's business.
 */
const json = { 'content-type': 'application/json' };

const upstreamSaw = (echo: Echo) => ({
  method: echo.method,
  url: echo.url,
  body: echo.body === '' ? '' : (JSON.parse(echo.body) as unknown),
  lengthMatches: echo.headers['content-length'] === String(Buffer.byteLength(echo.body)),
  chunked: echo.headers['transfer-encoding'] !== undefined,
});

describeAdapters(
  adapterNames,
  (f, adapter) => {
    const post = async (path: string, body: string, headers: Record<string, string> = json): Promise<Echo> => {
      const reply = await send(f.target.base, path, { method: 'POST', headers, body });
      expect(reply.status).toBe(200);
      return reply.json<Echo>();
    };

    describe('with a JSON body parser in front', () => {
      it('validates and maps the parsed body', async () => {
        const echo = await post('/echo/orders', '{"sku":"A-1","qty":2}');
        conform('parsed: json map', adapter, upstreamSaw(echo), { method: 'POST', url: '/orders', body: { lines: [{ sku: 'A-1', quantity: 2 }] }, lengthMatches: true, chunked: false });
      });

      it('forwards a validated body without a map, equal as JSON', async () => {
        const echo = await post('/echo/orders/raw', '{ "sku" : "A-1", "qty": 2 }');
        conform('parsed: json without map', adapter, upstreamSaw(echo), { method: 'POST', url: '/orders', body: { sku: 'A-1', qty: 2 }, lengthMatches: true, chunked: false });
      });

      it('forwards a parsed body on a passthrough route with its Content-Length', async () => {
        const echo = await post('/echo/upload', '{"nested":{"list":[1,"two",null]},"emoji":"€"}');
        conform('parsed: passthrough', adapter, upstreamSaw(echo), { method: 'POST', url: '/upload', body: { nested: { list: [1, 'two', null] }, emoji: '€' }, lengthMatches: true, chunked: false });
      });

      it('answers 422 with the issues of a parsed body', async () => {
        const reply = await send(f.target.base, '/echo/orders', { method: 'POST', headers: json, body: '{"sku":"","qty":0}' });
        const error = reply.json<{ error: { code: string; issues: { path: string[] }[] } }>().error;
        conform('parsed: 422', adapter, { status: reply.status, code: error.code, paths: error.issues.map((issue) => issue.path) }, { status: 422, code: 'validation_failed', paths: [['sku'], ['qty']] });
      });

      it("refuses a parsed body over the route's limit with 413, chunked as declared", async () => {
        const body = JSON.stringify({ text: 'x'.repeat(100) });
        const outcomes: Record<string, unknown> = {};
        for (const [name, framing] of [['declared', { 'content-length': String(Buffer.byteLength(body)) }], ['chunked', { 'transfer-encoding': 'chunked' }]] as const) {
          const before = f.upstreams.echo[0]!.requests();
          const reply = await send(f.target.base, '/echo/orders/small', { method: 'POST', headers: { ...json, ...framing }, body });
          outcomes[name] = { status: reply.status, code: reply.json<{ error: { code: string } }>().error.code, upstreamRequests: f.upstreams.echo[0]!.requests() - before };
        }
        const refused = { status: 413, code: 'payload_too_large', upstreamRequests: 0 };
        conform('parsed: 413 over the route limit', adapter, outcomes, { declared: refused, chunked: refused });
        // Under the limit, chunked: forwarded.
        const echo = await post('/echo/orders/small', '{"text":"short"}', { ...json, 'transfer-encoding': 'chunked' });
        expect(upstreamSaw(echo)).toEqual({ method: 'POST', url: '/orders', body: { text: 'short' }, lengthMatches: true, chunked: false });
      });

      it('leaves bodies the parser skips to stream as usual', async () => {
        const echo = await post('/echo/upload', 'plain text body', { 'content-type': 'text/plain' });
        conform('parsed: other content type', adapter, { body: echo.body, length: echo.headers['content-length'] }, { body: 'plain text body', length: '15' });
      });
    });
  },
  { bodyParser: true },
);
