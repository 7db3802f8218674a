// koa 3 handing the raw request to bare http-proxy-3 in one middleware.
import { createServer } from 'node:http';
import Koa from 'koa';
import { bareProxy } from './bare-proxy.ts';
import { listen, prefix } from './shared.ts';

const forward = bareProxy();
const app = new Koa();
app.use(async (ctx, next) => {
  if (!ctx.path.startsWith(`${prefix}/`)) return next();
  ctx.respond = false;
  ctx.req.url = ctx.req.url!.slice(prefix.length);
  forward(ctx.req, ctx.res);
});
listen(createServer(app.callback()));
