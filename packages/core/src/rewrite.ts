import { decodeParam, type Segment, type Tail } from './path-template.ts';

/**
 * Computes the upstream path (query excluded) from decoded params, the raw client path and, for a
 * catch-all route, its checked tail.
 */
export type Rewrite = (params: Readonly<Record<string, string>>, rawPath: string, tail: Tail | undefined) => string;

/**
 * Compiles a route's `to`: none strips the prefix, a static path replaces the path, a template
 * substitutes parameters, percent-encoded per segment, and a catch-all's tail with the encoding
 * the client sent.
 */
export const compileRewrite = (prefix: string, to: readonly Segment[] | undefined): Rewrite => {
  if (to === undefined) {
    const cut = prefix.length;
    return (_params, rawPath, tail) => {
      // The tail is a suffix of the raw path; what goes upstream is its checked form.
      const path = tail === undefined ? rawPath : rawPath.slice(0, rawPath.length - tail.raw.length) + tail.emitted;
      return (cut === 0 ? path : path.slice(cut)) || '/';
    };
  }
  if (to.every((segment) => segment.kind === 'static')) {
    const path = `/${to.map((segment) => (segment as { value: string }).value).join('/')}`;
    return () => path;
  }
  const last = to.length - 1;
  return (params, _rawPath, tail) => {
    let path = '';
    for (let i = 0; i <= last; i++) {
      const segment = to[i]!;
      if (segment.kind === 'static') path += `/${segment.value}`;
      else if (segment.kind === 'param') path += `/${encodeURIComponent(params[segment.name]!)}`;
      // A trailing slash of the tail is kept only where the tail ends the path, never as `//`.
      else if (i === last) path += tail!.emitted;
      else if (tail!.emitted.length > 1) path += tail!.emitted.endsWith('/') ? tail!.emitted.slice(0, -1) : tail!.emitted;
    }
    return path || '/';
  };
};

/**
 * Decodes and checks the raw values of a match against the names of the template; a catch-all's
 * value, last, comes checked already as `tail`.
 */
export const decodeParams = (names: readonly string[], values: readonly string[], tail?: Tail): Record<string, string> => {
  const params: Record<string, string> = {};
  const fixed = tail === undefined ? names.length : names.length - 1;
  for (let i = 0; i < fixed; i++) params[names[i]!] = decodeParam(values[i]!, names[i]!);
  if (tail !== undefined) params[names[fixed]!] = tail.value;
  return params;
};

/** Joins an upstream path with the `to` template's own query and the client's query. */
export const withQuery = (path: string, toQuery: string, query: string): string => {
  if (toQuery === '') return query === '' ? path : `${path}?${query}`;
  return query === '' ? `${path}?${toQuery}` : `${path}?${toQuery}&${query}`;
};
