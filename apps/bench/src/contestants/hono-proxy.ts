// hono on @hono/node-server with proxy() from hono/proxy (fetch-based), as its docs show.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { proxy } from 'hono/proxy';
import { announce, origin, prefix } from './shared.ts';

const app = new Hono();
app.all(`${prefix}/*`, (c) => {
  const url = new URL(c.req.url);
  return proxy(`${origin}${url.pathname.slice(prefix.length)}${url.search}`, { ...c.req, headers: { ...c.req.header() } });
});
serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => announce(info.port));
