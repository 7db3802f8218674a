import { decodeParam, type Segment } from './path-template.ts';

/** Computes the upstream path (query excluded) from decoded params and the raw client path. */
export type Rewrite = (params: Readonly<Record<string, string>>, rawPath: string) => string;

/**
 * Compiles a route's `to`: none strips the prefix, a static path replaces the path, a template
 * substitutes parameters, percent-encoded per segment.
 */
export const compileRewrite = (prefix: string, to: readonly Segment[] | undefined): Rewrite => {
  if (to === undefined) {
    const cut = prefix.length;
    return (_params, rawPath) => (cut === 0 ? rawPath : rawPath.slice(cut) || '/');
  }
  if (to.every((segment) => segment.kind === 'static')) {
    const path = `/${to.map((segment) => (segment as { value: string }).value).join('/')}`;
    return () => path;
  }
  return (params) => {
    let path = '';
    for (const segment of to) {
      path += `/${segment.kind === 'static' ? segment.value : encodeURIComponent(params[segment.name]!)}`;
    }
    return path;
  };
};

/** Decodes and checks the raw values of a match against the names of the template. */
export const decodeParams = (names: readonly string[], values: readonly string[]): Record<string, string> => {
  const params: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) params[names[i]!] = decodeParam(values[i]!, names[i]!);
  return params;
};

/** Joins an upstream path with the `to` template's own query and the client's query. */
export const withQuery = (path: string, toQuery: string, query: string): string => {
  if (toQuery === '') return query === '' ? path : `${path}?${query}`;
  return query === '' ? `${path}?${toQuery}` : `${path}?${toQuery}&${query}`;
};
