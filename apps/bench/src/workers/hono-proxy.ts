// A Worker: Hono with proxy() from hono/proxy, the Node contestant hono-proxy.ts in workerd.
import { Hono } from 'hono';
import { proxy } from 'hono/proxy';

type Bindings = { ORIGIN: string };

const prefix = '/api';
const app = new Hono<{ Bindings: Bindings }>();
app.all(`${prefix}/*`, (c) => {
  const url = new URL(c.req.url);
  return proxy(`${c.env.ORIGIN}${url.pathname.slice(prefix.length)}${url.search}`, { ...c.req, headers: { ...c.req.header() } });
});

export default { fetch: app.fetch };
