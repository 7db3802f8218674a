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

/** The default renderer: `code: message` as text/plain. */
export const textRenderer: ErrorRenderer = function textRenderer(error) {
  return respond(error.status, `${error.code}: ${error.message}\n`, {
    'content-type': 'text/plain; charset=utf-8',
    ...error.headers,
  });
};

/** `{ "error": { "code", "message", "status", ...extensions } }` as application/json. */
export const jsonRenderer: ErrorRenderer = function jsonRenderer(error) {
  return json(
    error.status,
    { error: { ...error.extensions, code: error.code, message: error.message, status: error.status } },
    { ...error.headers },
  );
};

export interface ProblemRendererOptions {
  /** Prefix of the `type` URI; the code is appended. Point it at your own docs. */
  typeBase?: string;
}

/**
 * RFC 9457 problem details (application/problem+json): `type`, `title`, `status`, `detail`,
 * `instance`, plus `code` and the error's extensions as extension members.
 */
export const problemRenderer = ({ typeBase = 'urn:apigate:error:' }: ProblemRendererOptions = {}): ErrorRenderer =>
  function problemRenderer(error, context) {
    const body = {
      ...error.extensions,
      type: `${typeBase}${error.code}`,
      title: statusText[error.status] ?? 'Error',
      status: error.status,
      detail: error.message,
      instance: context.path,
      code: error.code,
    };
    return respond(error.status, JSON.stringify(body), {
      ...error.headers,
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
 * throws falls back to the text renderer so that the client still gets an answer.
 */
export const renderError = (error: GatewayError, context: RenderContext, renderer: ErrorRenderer): GatewayResponse => {
  if (error.response) return error.response;
  try {
    return renderer(error, context);
  } catch {
    return textRenderer(error, context);
  }
};
