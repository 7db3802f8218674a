import { statusText } from './codes.ts';
import type { GatewayError } from './gateway-error.ts';
import { json, respond, type GatewayResponse } from './response.ts';

/** What a renderer knows of the request that failed. */
export interface RenderContext {
  readonly method: string;
  /** The request path as the client sent it (no query string). */
  readonly path: string;
}

/** Turns a GatewayError into the response the client gets. */
export type ErrorRenderer = (error: GatewayError, context: RenderContext) => GatewayResponse;

const withoutContentType = (headers: Readonly<Record<string, string>> | undefined): Record<string, string> => {
  const out: Record<string, string> = {};
  if (headers) for (const name of Object.keys(headers)) if (name.toLowerCase() !== 'content-type') out[name] = headers[name]!;
  return out;
};

/** The default renderer: `code: message` as text/plain. */
export const textRenderer: ErrorRenderer = function textRenderer(error) {
  // The renderer's content type wins over the error's headers: the body is in its format.
  return respond(error.status, `${error.code}: ${error.message}\n`, {
    ...withoutContentType(error.headers),
    'content-type': 'text/plain; charset=utf-8',
  });
};

/** `{ "error": { "code", "message", "status", ...extensions } }` as application/json. */
export const jsonRenderer: ErrorRenderer = function jsonRenderer(error) {
  return json(error.status, { error: { ...error.extensions, code: error.code, message: error.message, status: error.status } }, withoutContentType(error.headers));
};

export interface ProblemRendererOptions {
  /** Prefix of the `type` URI; the code is appended. Point it at your own docs. */
  typeBase?: string;
}

/**
 * RFC 9457 problem details (application/problem+json): `type`, `title`, `status`, `detail`,
 * `instance`, plus `code` and the error's extensions as extension members. An error with a
 * registered `problemType` gets that type URI and title, and the type's members.
 */
export const problemRenderer = ({ typeBase = 'urn:apigate:error:' }: ProblemRendererOptions = {}): ErrorRenderer =>
  function problemRenderer(error, context) {
    const body = {
      ...error.extensions,
      ...error.problemType?.members,
      type: error.problemType?.type ?? `${typeBase}${error.code}`,
      title: error.problemType?.title ?? statusText[error.status] ?? 'Error',
      status: error.status,
      detail: error.message,
      instance: context.path,
      code: error.code,
    };
    return respond(error.status, JSON.stringify(body), {
      ...withoutContentType(error.headers),
      'content-type': 'application/problem+json; charset=utf-8',
    });
  };

export type RendererOption = 'text' | 'json' | 'problem' | ErrorRenderer;

/** Resolves a renderer option (a built-in's name or a function) to a renderer. */
export const resolveRenderer = (option: RendererOption = 'text'): ErrorRenderer => {
  if (typeof option === 'function') return option;
  if (option === 'json') return jsonRenderer;
  if (option === 'problem') return problemRenderer();
  return textRenderer;
};

/**
 * Renders an error: its own custom response if it carries one, else the renderer's. A renderer that
 * throws (or returns no response) falls back to the text renderer so that the client still gets an
 * answer.
 */
export const renderError = (error: GatewayError, context: RenderContext, renderer: ErrorRenderer): GatewayResponse => {
  if (error.response) return error.response;
  try {
    const response = renderer(error, context);
    // A custom renderer that returns no response is treated like one that throws.
    if (typeof response === 'object' && response !== null && Number.isInteger(response.status)) return response;
  } catch {
    // fall through to the text renderer
  }
  return textRenderer(error, context);
};
