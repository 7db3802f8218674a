import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Gateway } from '@apigate/core';
import { GatewayError, statusText } from '@apigate/errors';

const codeFor = (parserCode: string | undefined): GatewayError => {
  if (parserCode === 'HPE_HEADER_OVERFLOW') return new GatewayError('header_too_large', { details: { parserCode } });
  if (parserCode === 'HPE_INVALID_METHOD') return new GatewayError('not_implemented', { details: { parserCode } });
  if (parserCode === 'ERR_HTTP_REQUEST_TIMEOUT') return new GatewayError('request_timeout', { details: { parserCode } });
  return new GatewayError('bad_request', { details: { parserCode } });
};

/**
 * Renders the requests that Node's HTTP parser refuses before any middleware runs (headers over
 * `maxHeaderSize`, an unknown method, a malformed request line) with the gateway's renderer,
 * instead of Node's empty 400/431, then closes the connection.
 * @example const server = app.listen(8080); renderClientErrors(server, gateway)
 */
export const renderClientErrors = (server: Server, gateway: Gateway): Server =>
  server.on('clientError', function renderClientError(error: NodeJS.ErrnoException, socket: Socket) {
    // A response to an earlier, pipelined request on this connection is in flight: bytes written
    // now would land inside it (or answer the wrong request), so the connection is only closed.
    const inFlight = (socket as Socket & { _httpMessage?: unknown })._httpMessage;
    if (!socket.writable || inFlight || (error.code === 'ECONNRESET' && socket.destroyed)) {
      socket.destroy();
      return;
    }
    const rendered = gateway.render(codeFor(error.code), 'GET', '/');
    const body = rendered.body === null ? Buffer.alloc(0) : Buffer.from(rendered.body);
    const head = [`HTTP/1.1 ${rendered.status} ${statusText[rendered.status] ?? 'Error'}`, 'connection: close', `content-length: ${body.byteLength}`];
    for (const [name, value] of Object.entries(rendered.headers)) head.push(`${name}: ${value}`);
    socket.end(Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`), body]));
  });
