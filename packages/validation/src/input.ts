import type { InputContext, RouteDescriptor, RouteInput } from '@apigate/core';
import { BodyLimit, serializeParsedBody } from '@apigate/core/exchange';
import { GatewayError } from '@apigate/errors';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { checkPoison, parseJson } from './json.ts';
import { checkMediaType } from './media-type.ts';
import { parsePairs, serializePairs } from './pairs.ts';
import { isSchema, validate } from './standard.ts';

/** The input options of a route, untyped: what the builders hand to `createInput`. */
export interface InputOptions {
  readonly path?: StandardSchemaV1 | undefined;
  readonly query?: StandardSchemaV1 | undefined;
  readonly json?: StandardSchemaV1 | undefined;
  readonly form?: StandardSchemaV1 | undefined;
  readonly multipart?: boolean | undefined;
  readonly map?: ((input: never, context: never) => unknown) | undefined;
  readonly limit?: number | undefined;
  readonly maxDepth?: number | undefined;
}

/** What a route's validation declares, as `gateway.routes()` lists it: the schemas as given. */
export interface DeclaredSchemas {
  readonly path?: StandardSchemaV1;
  readonly query?: StandardSchemaV1;
  readonly json?: StandardSchemaV1;
  readonly form?: StandardSchemaV1;
  readonly multipart?: true;
}

/**
 * The schemas a listed route declared, typed: for documentation generators reading
 * `gateway.routes()`. A route without validation declares none.
 * @example for (const route of gateway.routes()) toOpenApi(route.path, declaredSchemas(route).json)
 */
export const declaredSchemas = (route: Pick<RouteDescriptor, 'input'>): DeclaredSchemas => {
  const declared: { -readonly [K in keyof DeclaredSchemas]: DeclaredSchemas[K] } = {};
  for (const kind of ['path', 'query', 'json', 'form'] as const) {
    const schema = route.input[kind];
    if (isSchema(schema)) declared[kind] = schema;
  }
  if (route.input.multipart === true) declared.multipart = true;
  return declared;
};

/** JSON nesting a route accepts unless it sets `maxDepth`. */
export const defaultMaxDepth = 128;

const encoder = new TextEncoder();
const formType = 'application/x-www-form-urlencoded';
const jsonType = 'application/json';
const bodyless = new Set(['GET', 'HEAD']);

const problemsOf = (options: InputOptions): string[] => {
  const problems: string[] = [];
  const kinds = (['query', 'json', 'form', 'multipart'] as const).filter((kind) => options[kind] !== undefined && options[kind] !== false);
  if (options.multipart !== undefined && typeof options.multipart !== 'boolean') problems.push(`multipart must be true or false, got ${String(options.multipart)}`);
  if (kinds.length > 1) problems.push(`only one of query, json, form and multipart per route, got ${kinds.join(', ')}`);
  if (options.map !== undefined) {
    if (typeof options.map !== 'function') problems.push('map must be a function');
    if (options.multipart) problems.push('map is not allowed with multipart: the body is streamed, never read');
    else if (!kinds.some((kind) => kind !== 'multipart')) problems.push('map needs one of query, json or form to map');
  }
  for (const kind of ['path', 'query', 'json', 'form'] as const) {
    if (options[kind] !== undefined && !isSchema(options[kind])) problems.push(`${kind} must be a Standard Schema validator (zod, valibot, arktype, ...)`);
  }
  for (const name of ['limit', 'maxDepth'] as const) {
    const value = options[name];
    if (value !== undefined && (!Number.isSafeInteger(value) || value <= 0)) problems.push(`${name} must be a positive whole number, got ${String(value)}`);
  }
  return problems;
};

type MapFunction = (input: unknown, context: InputContext) => unknown;

/** Reads the body as bytes, or takes what a body parser in front of the gateway made of it. */
const bodyOf = async (context: InputContext): Promise<{ readonly bytes: Uint8Array } | { readonly parsed: unknown }> => {
  const body = context.body;
  if (body === undefined) throw new GatewayError('internal', { details: { reason: 'the adapter offers no request body' } });
  const parsed = body.parsed;
  // read() refuses a declared length over the limit before reading; a parsed body the same way.
  if (parsed !== undefined && body.contentLength !== undefined && body.contentLength > context.bodyLimit) {
    throw new GatewayError('payload_too_large', { details: { limit: context.bodyLimit, declared: body.contentLength } });
  }
  if (parsed === undefined) return { bytes: await body.read(context.bodyLimit) };
  // body-parser turns an empty JSON body into `{}`: a body declared empty is judged as empty.
  if (body.contentLength === 0) return { bytes: new Uint8Array(0) };
  const value = parsed.value;
  if (value instanceof Uint8Array) return { bytes: withinLimit(context, value) };
  if (typeof value === 'string') return { bytes: withinLimit(context, encoder.encode(value)) };
  return { parsed: value };
};

/**
 * A body that a parser in front read from a chunked stream had no declared length to refuse, and
 * the gateway never counted its bytes: it is measured by what goes upstream for it (the parser's
 * bytes or string, or the re-serialized value) and refused over the limit as a stream the gateway
 * read would have been, so that chunked and declared bodies meet the same limit.
 */
const withinLimit = (context: InputContext, bytes: Uint8Array): Uint8Array => {
  if (context.body?.contentLength !== undefined) return bytes;
  const refused = new BodyLimit(context.bodyLimit).add(bytes);
  if (refused !== undefined) throw refused;
  return bytes;
};

/**
 * The same for a parsed object, after the poison and depth checks (a value too deep to serialize
 * is refused there). The exchange still chooses and serializes what goes upstream (rule 3): the
 * bytes measured here are the ones it will send.
 */
const checkParsedSize = (context: InputContext, value: unknown): void => {
  const body = context.body;
  if (body === undefined || body.contentLength !== undefined) return;
  let bytes: Uint8Array | undefined;
  try {
    bytes = serializeParsedBody(value, body.contentType);
  } catch {
    // The exchange answers a value it cannot serialize (400 invalid_json or 500 internal).
    return;
  }
  if (bytes === undefined) return;
  withinLimit(context, bytes);
};

/**
 * Compiles a route's input options into core's RouteInput: path validation before the hooks; the
 * query or body read, checked, validated and mapped after them.
 */
export const createInput = (options: InputOptions): RouteInput | undefined => {
  const { path, query, json, form, multipart, limit } = options;
  const map = options.map as MapFunction | undefined;
  const maxDepth = options.maxDepth ?? defaultMaxDepth;
  const problems = problemsOf(options);
  if (path === undefined && query === undefined && json === undefined && form === undefined && !multipart && problems.length === 0) return undefined;

  const run = async (context: InputContext): Promise<void> => {
    if (query !== undefined) {
      const value = await validate(query, parsePairs(context.query, 'invalid_query'), 'query');
      if (map) context.setQuery(serializePairs(toRecord(await map(value, context))));
      return;
    }
    if (multipart) {
      checkMediaType('multipart', context.body?.contentType, context.headers.get('content-encoding'));
      return;
    }
    if (form !== undefined) {
      let input: unknown;
      if (bodyless.has(context.method)) {
        // A GET form, as browsers send it: the fields are the query string.
        input = parsePairs(context.query, 'invalid_form');
      } else {
        checkMediaType('form', context.body?.contentType, encodingOf(context));
        const body = await bodyOf(context);
        if ('bytes' in body) {
          let text: string;
          try {
            text = new TextDecoder('utf-8', { fatal: true }).decode(body.bytes);
          } catch (cause) {
            throw new GatewayError('invalid_form', { message: 'The form data is not valid UTF-8.', cause });
          }
          input = parsePairs(text, 'invalid_form');
          // What the route read goes upstream as it came, unless the map replaces it.
          context.setBody(body.bytes, context.body?.contentType ?? formType);
        } else {
          checkPoison(body.parsed, 'invalid_form');
          checkParsedSize(context, body.parsed);
          input = body.parsed;
        }
      }
      const value = await validate(form, input, 'form');
      if (!map) return;
      const encoded = serializePairs(toRecord(await map(value, context)));
      if (bodyless.has(context.method)) context.setQuery(encoded);
      else context.setBody(encoder.encode(encoded), formType);
      return;
    }
    if (json !== undefined) {
      checkMediaType('json', context.body?.contentType, encodingOf(context));
      const body = await bodyOf(context);
      let input: unknown;
      if ('bytes' in body) {
        input = parseJson(body.bytes, maxDepth);
        context.setBody(body.bytes, context.body?.contentType ?? jsonType);
      } else {
        // A body parser in front of the gateway sets no depth limit: apply the route's here too.
        checkPoison(body.parsed, 'invalid_json', maxDepth);
        checkParsedSize(context, body.parsed);
        input = body.parsed;
      }
      const value = await validate(json, input, 'json');
      // The client's JSON type (a +json type, say) is kept for the mapped body.
      if (map) context.setBody(encoder.encode(stringify(await map(value, context))), context.body?.contentType ?? jsonType);
    }
  };

  const schemas: Record<string, unknown> = {};
  for (const kind of ['path', 'query', 'json', 'form'] as const) if (options[kind] !== undefined) schemas[kind] = options[kind];
  if (multipart) schemas.multipart = true;
  return {
    limit,
    problems,
    schemas,
    params: path === undefined ? undefined : (params) => validate(path, params, 'path'),
    run: query === undefined && json === undefined && form === undefined && !multipart ? undefined : run,
  };
};

/**
 * The Content-Encoding the body still has: none once a body parser in front of the gateway
 * inflated and parsed it (the bridge forwards that body without the header).
 */
const encodingOf = (context: InputContext): string | undefined =>
  context.body?.parsed === undefined ? context.headers.get('content-encoding') : undefined;

const toRecord = (value: unknown): object => {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new GatewayError('internal', { details: { reason: 'a query or form map must return a plain object' } });
  }
  return value;
};

const stringify = (value: unknown): string => {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (cause) {
    throw new GatewayError('internal', { details: { reason: 'the json map returned a value JSON cannot represent' }, cause });
  }
  if (text === undefined) throw new GatewayError('internal', { details: { reason: 'the json map returned undefined' } });
  return text;
};
