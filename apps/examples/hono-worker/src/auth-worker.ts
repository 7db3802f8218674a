// A second Worker, reached by the gateway Worker through its service binding AUTH_SERVICE (no
// URL, no public route): it answers with what it received, the request's `cf` options included,
// so that curl shows what the gateway sent it. Stands for an auth or user service of your own.

/** What the auth worker answers. */
export interface AuthEcho {
  readonly worker: 'auth';
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  /** The `cf` options the gateway's fetch carried (cacheTtl, cacheKey, …), or null. */
  readonly cf: Record<string, unknown> | null;
}

/** The `cf` fields a caller's fetch can set; workerd adds the connection's own beside them. */
const fetchOptions = ['cacheTtl', 'cacheEverything', 'cacheKey', 'cacheTtlByStatus', 'cacheTags', 'polish', 'minify', 'scrapeShield', 'apps', 'resolveOverride'];

export default {
  fetch(request: Request): Response {
    const cf = (request as { cf?: Record<string, unknown> }).cf;
    const given = cf === undefined ? [] : fetchOptions.filter((name) => cf[name] !== undefined).map((name) => [name, cf[name]] as const);
    const echo: AuthEcho = {
      worker: 'auth',
      method: request.method,
      url: request.url,
      headers: Object.fromEntries(request.headers),
      cf: given.length === 0 ? null : Object.fromEntries(given),
    };
    return Response.json(echo);
  },
};
