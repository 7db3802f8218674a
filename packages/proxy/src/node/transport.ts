import { Agent as HttpAgent, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { Readable, pipeline } from 'node:stream';
import type { ForwardPlan, Transport, UpstreamConfig } from '@apigate/core';
import { upstreamDefaults } from '@apigate/core';
import { GatewayError } from '@apigate/errors';
import { ProxyServer } from 'http-proxy-3';
import { cleanResponseHeaders } from './hygiene.ts';

/** One request to forward: the client's request and response, and a replacement body if any. */
export interface NodeExchange {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** Bytes to send instead of `req`'s stream, when the body was already read. */
  readonly body?: Uint8Array | undefined;
  /** Answers the client when the upstream failed before the response started. */
  readonly fail: (req: IncomingMessage, res: ServerResponse, error: GatewayError) => void;
}

interface Target {
  readonly protocol: string;
  readonly host: string;
  readonly hostname: string;
  readonly port: string;
  readonly pathname: string;
  readonly search: string;
}

const planKey = Symbol('apigate.plan');
type Tagged = ServerResponse & { [planKey]?: ForwardPlan };

class UpstreamTimeout extends Error {
  readonly code = 'UPSTREAM_TIMEOUT';
}

const unreachable = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/** Maps a Node/http-proxy error to the gateway's code for it. */
export const upstreamError = (error: NodeJS.ErrnoException): GatewayError => {
  const code = error.code ?? '';
  const details = { upstreamCode: code, reason: error.message };
  if (code === 'UPSTREAM_TIMEOUT' || code === 'ECONNECT_TIMEOUT' || code === 'ETIMEDOUT') return new GatewayError('upstream_timeout', { details, cause: error });
  if (unreachable.has(code)) return new GatewayError('upstream_unreachable', { details, cause: error });
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ECONNABORTED') return new GatewayError('upstream_reset', { details, cause: error });
  return new GatewayError('bad_gateway', { details, cause: error });
};

/**
 * The Node transport: http-proxy-3 over keep-alive agents. Streams both ways, maps upstream
 * faults to GatewayErrors, aborts the client connection when the upstream fails mid-response,
 * and aborts the upstream request when the client goes away.
 */
export class NodeTransport implements Transport<NodeExchange> {
  readonly httpAgent: HttpAgent;
  readonly httpsAgent: HttpsAgent;
  readonly #proxy: ProxyServer;
  readonly #targets = new Map<string, Omit<Target, 'pathname' | 'search'>>();
  readonly #requestTimeout: number;

  constructor(config: UpstreamConfig = {}) {
    const settings = { ...upstreamDefaults, ...config };
    const agentOptions = {
      keepAlive: true,
      timeout: settings.idleTimeout,
      maxFreeSockets: settings.maxIdleSockets,
      noDelay: settings.noDelay,
      scheduling: 'lifo' as const,
    };
    this.httpAgent = new HttpAgent(agentOptions);
    this.httpsAgent = new HttpsAgent(agentOptions);
    this.#requestTimeout = settings.requestTimeout;
    this.#proxy = new ProxyServer({
      changeOrigin: !settings.preserveHost,
      ignorePath: true,
      selfHandleResponse: true,
      connectTimeout: settings.connectTimeout,
    });
    this.#proxy.on('proxyReq', (proxyReq) => {
      if (!settings.noDelay) proxyReq.setNoDelay(false);
      proxyReq.setTimeout(this.#requestTimeout, () => proxyReq.destroy(new UpstreamTimeout('the upstream was silent for longer than requestTimeout')));
    });
    this.#proxy.on('proxyRes', (proxyRes, _req, res) => this.#respond(proxyRes, res as Tagged));
    this.#proxy.on('error', () => {
      // Errors reach the per-request callback; this listener only keeps a stray one from throwing.
    });
  }

  forward(exchange: NodeExchange, plan: ForwardPlan): void {
    const { req, res, body } = exchange;
    (res as Tagged)[planKey] = plan;
    const base = this.#target(plan.backend.origin);
    const q = plan.uri.indexOf('?');
    const target: Target = { ...base, pathname: q === -1 ? plan.uri : plan.uri.slice(0, q), search: q === -1 ? '' : plan.uri.slice(q) };
    const agent = base.protocol === 'https:' ? this.httpsAgent : this.httpAgent;
    const options = body === undefined ? { target, agent, method: plan.method } : { target, agent, method: plan.method, buffer: Readable.from([body]) };
    this.#proxy.web(req, res, options as never, (error) => this.#failed(exchange, plan, error as NodeJS.ErrnoException));
  }

  /** Closes pooled connections; in-flight requests finish. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  #target(origin: string): Omit<Target, 'pathname' | 'search'> {
    let target = this.#targets.get(origin);
    if (!target) {
      const url = new URL(origin);
      const port = url.port || (url.protocol === 'https:' ? '443' : '80');
      const hostname = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
      target = { protocol: url.protocol, host: url.hostname, hostname, port };
      this.#targets.set(origin, target);
    }
    return target;
  }

  #respond(proxyRes: IncomingMessage, res: Tagged): void {
    const plan = res[planKey];
    if (res.headersSent || res.destroyed) {
      proxyRes.destroy();
      return;
    }
    res.writeHead(proxyRes.statusCode ?? 502, proxyRes.statusMessage, cleanResponseHeaders(proxyRes.headers));
    const status = proxyRes.statusCode ?? 502;
    pipeline(proxyRes, res, (error) => {
      if (!plan) return;
      if (error) plan.settle({ error: upstreamError(error as NodeJS.ErrnoException) });
      else plan.settle({ status });
    });
  }

  #failed(exchange: NodeExchange, plan: ForwardPlan, error: NodeJS.ErrnoException): void {
    const { req, res } = exchange;
    const gatewayError = upstreamError(error);
    plan.settle({ error: gatewayError });
    if (res.headersSent || res.destroyed || req.socket.destroyed) {
      // The response started (or the client left): there is no second response, only an abort.
      res.destroy();
      return;
    }
    exchange.fail(req, res, gatewayError);
  }
}
