// Request targets and upstream URIs: which forms the gateway matches and which it may forward.

/** A path with one leading slash: `//x` and `/\x` would be read as another host upstream. */
export const originForm = /^\/(?![/\\])/;
/**
 * What a hook may not put in `ctx.uri`: whitespace and control characters (Node refuses them when it
 * sends the request; CR/LF would split it) and a backslash in the path, which WHATWG URL parsers,
 * as a fetch transport uses, read as `/` (`/\evil` → `//evil`).
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what it refuses
export const unsafeInUri = /[\x00-\x20\x7f]|^[^?]*\\/;

const absoluteForm = /^https?:\/\/[^/?#]*/i;
/** The origin-form part of an absolute-form target, or undefined for anything else. */
export const originOf = (target: string): string | undefined => {
  const found = absoluteForm.exec(target);
  if (found === null) return undefined;
  const rest = target.slice(found[0].length);
  return rest === '' ? '/' : rest.charCodeAt(0) === 63 /* ? */ ? `/${rest}` : rest;
};
