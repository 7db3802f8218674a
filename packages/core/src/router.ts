import type { Segment } from './path-template.ts';

interface TrieNode<T> {
  readonly statics: Map<string, TrieNode<T>>;
  param: TrieNode<T> | undefined;
  /** Handlers by method, at the node where a template ends. */
  methods: Map<string, T> | undefined;
}

const node = <T>(): TrieNode<T> => ({ statics: new Map(), param: undefined, methods: undefined });

export type RouterMatch<T> =
  | { readonly kind: 'route'; readonly value: T; readonly values: string[] }
  | { readonly kind: 'method'; readonly allowed: readonly string[] };

/**
 * A segment trie over every mounted route, method-aware. Static segments win over parameters,
 * with backtracking, so `/a/new` and `/a/{id}` coexist. One trailing slash is ignored.
 */
export class Router<T> {
  readonly #root = node<T>();

  /** Adds a route; returns false when the same method and shape is already there. */
  add(method: string, segments: readonly Segment[], value: T): boolean {
    let current = this.#root;
    for (const segment of segments) {
      if (segment.kind === 'static') {
        let next = current.statics.get(segment.value);
        if (!next) current.statics.set(segment.value, (next = node()));
        current = next;
      } else {
        current = current.param ??= node();
      }
    }
    current.methods ??= new Map();
    if (current.methods.has(method)) return false;
    current.methods.set(method, value);
    return true;
  }

  /** Finds the route for a raw path (no query). Param values are returned still percent-encoded. */
  find(method: string, path: string): RouterMatch<T> | undefined {
    const end = path.length > 1 && path.endsWith('/') ? path.length - 1 : path.length;
    // Only one trailing slash is ignored: `//` and `/a//` would otherwise match `/` and `/a` and be
    // forwarded with an empty segment (`//` upstream reads as a scheme-relative URL).
    if (end < path.length && path.charCodeAt(end - 1) === 47 /* / */) return undefined;
    const values: string[] = [];
    const found = walk(this.#root, path, 1, end, values);
    if (!found?.methods) return undefined;
    const value = found.methods.get(method) ?? (method === 'HEAD' ? found.methods.get('GET') : undefined);
    if (value !== undefined) return { kind: 'route', value, values };
    const allowed = [...found.methods.keys()];
    if (allowed.includes('GET') && !allowed.includes('HEAD')) allowed.push('HEAD');
    // The gateway answers OPTIONS on every path it serves (204 with Allow, or the OPTIONS route).
    if (!allowed.includes('OPTIONS')) allowed.push('OPTIONS');
    return { kind: 'method', allowed };
  }
}

const walk = <T>(current: TrieNode<T>, path: string, start: number, end: number, values: string[]): TrieNode<T> | undefined => {
  if (start >= end) return current.methods ? current : undefined;
  let stop = path.indexOf('/', start);
  if (stop === -1 || stop > end) stop = end;
  if (stop === start) return undefined; // empty segment: `//`
  const segment = path.slice(start, stop);
  const staticChild = current.statics.get(segment);
  if (staticChild) {
    const found = walk(staticChild, path, stop + 1, end, values);
    if (found) return found;
  }
  if (current.param) {
    values.push(segment);
    const found = walk(current.param, path, stop + 1, end, values);
    if (found) return found;
    values.pop();
  }
  return undefined;
};
