import type { Segment } from './path-template.ts';

interface TrieNode<T> {
  readonly statics: Map<string, TrieNode<T>>;
  param: TrieNode<T> | undefined;
  /** Handlers by method (`*` for every method), at the node where a template ends. */
  methods: Map<string, T> | undefined;
  /** Handlers by method of the catch-all templates that end here with `{*name}`. */
  tail: Map<string, T> | undefined;
}

const node = <T>(): TrieNode<T> => ({ statics: new Map(), param: undefined, methods: undefined, tail: undefined });

export type RouterMatch<T> =
  | { readonly kind: 'route'; readonly value: T; readonly values: string[] }
  | { readonly kind: 'method'; readonly allowed: readonly string[] };

/**
 * A segment trie over every mounted route, method-aware. Most specific first, with backtracking:
 * a static segment wins over a parameter and a parameter over a catch-all, so `/a/new`, `/a/{id}`
 * and `/a/{*rest}` coexist; a more specific path that does not answer the method gives way to a
 * less specific one that does. One trailing slash is ignored.
 */
export class Router<T> {
  readonly #root = node<T>();

  /** Adds a route; returns false when the same method and shape is already there. */
  add(method: string, segments: readonly Segment[], value: T): boolean {
    let current = this.#root;
    let methods: Map<string, T> | undefined;
    for (const segment of segments) {
      if (segment.kind === 'static') {
        let next = current.statics.get(segment.value);
        if (!next) current.statics.set(segment.value, (next = node()));
        current = next;
      } else if (segment.kind === 'param') {
        current = current.param ??= node();
      } else {
        // The route's last segment (compileRoute checks): the catch-all hangs off this node.
        methods = current.tail ??= new Map();
      }
    }
    methods ??= current.methods ??= new Map();
    if (methods.has(method)) return false;
    methods.set(method, value);
    return true;
  }

  /**
   * Finds the route for a raw path (no query). Param values are returned still percent-encoded; a
   * catch-all's value is the raw rest of the path from the slash before it (`''` when none).
   */
  find(method: string, path: string): RouterMatch<T> | undefined {
    let end = path.length > 1 && path.endsWith('/') ? path.length - 1 : path.length;
    // Only one trailing slash is ignored: `//` and `/a//` would otherwise match `/` and `/a` and be
    // forwarded with an empty segment (`//` upstream reads as a scheme-relative URL). Kept whole,
    // they end in an empty segment that no template matches; a catch-all takes it, and refuses it.
    if (end < path.length && path.charCodeAt(end - 1) === 47 /* / */) end = path.length;
    const values: string[] = [];
    const value = walk(this.#root, 1, { path, end, method, values });
    if (value !== undefined) return { kind: 'route', value, values };
    const found = new Set<string>();
    collect(this.#root, 1, { path, end, found });
    if (found.size === 0) return undefined;
    const allowed = [...found];
    if (allowed.includes('GET') && !allowed.includes('HEAD')) allowed.push('HEAD');
    // The gateway answers OPTIONS on every path it serves (204 with Allow, or the OPTIONS route).
    if (!allowed.includes('OPTIONS')) allowed.push('OPTIONS');
    return { kind: 'method', allowed };
  }
}

/** The route answering `method`: its own, the GET route for HEAD, then an all() route. */
const pick = <T>(methods: Map<string, T> | undefined, method: string): T | undefined => {
  if (methods === undefined) return undefined;
  return methods.get(method) ?? (method === 'HEAD' ? methods.get('GET') : undefined) ?? methods.get('*');
};

const segmentEnd = (path: string, start: number, end: number): number => {
  const stop = path.indexOf('/', start);
  return stop === -1 || stop > end ? end : stop;
};

/** The raw path of one find() and where matching stops in it (before an ignored trailing slash). */
interface Span {
  readonly path: string;
  readonly end: number;
}

/** Walks the trie from `start`, the first character of a segment; `values` collects the raw params. */
const walk = <T>(current: TrieNode<T>, start: number, search: Span & { readonly method: string; readonly values: string[] }): T | undefined => {
  const { path, end, method, values } = search;
  if (start >= end) {
    const found = pick(current.methods, method);
    if (found !== undefined) return found;
  } else {
    const stop = segmentEnd(path, start, end);
    // An empty segment (`//`) matches no static segment nor parameter.
    if (stop > start) {
      const segment = path.slice(start, stop);
      const staticChild = current.statics.get(segment);
      if (staticChild) {
        const found = walk(staticChild, stop + 1, search);
        if (found !== undefined) return found;
      }
      if (current.param) {
        values.push(segment);
        const found = walk(current.param, stop + 1, search);
        if (found !== undefined) return found;
        values.pop();
      }
    }
  }
  if (current.tail) {
    const found = pick(current.tail, method);
    if (found !== undefined) {
      values.push(path.slice(start - 1));
      return found;
    }
  }
  return undefined;
};

/** The methods of every template the path matches, most specific first: the Allow of a 405. */
const collect = <T>(current: TrieNode<T>, start: number, search: Span & { readonly found: Set<string> }): void => {
  const { path, end, found } = search;
  if (start >= end) {
    for (const method of current.methods?.keys() ?? []) found.add(method);
  } else {
    const stop = segmentEnd(path, start, end);
    if (stop > start) {
      const staticChild = current.statics.get(path.slice(start, stop));
      if (staticChild) collect(staticChild, stop + 1, search);
      if (current.param) collect(current.param, stop + 1, search);
    }
  }
  for (const method of current.tail?.keys() ?? []) found.add(method);
};
