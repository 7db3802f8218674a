// The fetch transport for edge runtimes. Header hygiene, trust, parsed-body re-serialization and
// fault mapping are the transport's own steps, not API: they stay in their modules, and the
// exports map closes every path but the entries.
export { fetchHandler, toWebResponse, FetchTransport, type FetchHandler, type FetchRequestContext, type FetchExchange } from './fetch/index.ts';
// For adapter authors: Web Headers as a middleware's response-phase view.
export { WebResponseHeaders } from './fetch/index.ts';
// Ready middleware for what http-proxy-middleware users reach for; runtime-neutral, on every adapter.
export { interceptBody, defaultInterceptLimit, type InterceptBodyOptions, type InterceptedResponse } from './middleware/intercept-body.ts';
export { rewriteLocation, type RewriteLocationOptions } from './middleware/rewrite-location.ts';
export { rewriteCookies, type CookieRewrite, type RewriteCookiesOptions } from './middleware/rewrite-cookies.ts';
