import { request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';

/** A complete response as the client got it. */
export interface Reply {
  readonly status: number;
  /** The reason phrase of the status line. */
  readonly statusText: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
  readonly text: string;
  /** The body parsed as JSON; throws if it is not JSON. */
  json<T = unknown>(): T;
}

export interface SendOptions {
  readonly method?: string;
  readonly headers?: OutgoingHttpHeaders;
  readonly body?: string | Buffer;
}

/**
 * Sends one request over a fresh connection (no pool: nothing stays open after the test) and
 * reads the whole response. The path goes on the wire exactly as given, `..` and `%2e` included.
 */
export const send = (base: string, path: string, { method = 'GET', headers = {}, body }: SendOptions = {}): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = request({ host: url.hostname, port: url.port, method, path, headers, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const text = bytes.toString('utf8');
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, body: bytes, text, json: <T>() => JSON.parse(text) as T });
      });
    });
    req.end(body);
  });

/** Starts a request and resolves once the response headers are in; the caller reads or aborts. */
export const open = (base: string, path: string, headers: Record<string, string> = {}): Promise<{ res: IncomingMessage; abort: () => void }> =>
  new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = request({ host: url.hostname, port: url.port, path, headers, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      res.on('error', () => {});
      resolve({ res, abort: () => req.destroy() });
    });
    req.end();
  });

/** Sends a GET and returns at once, before any response: the caller leaves with `abort()`. */
export const begin = (base: string, path: string): { abort: () => void } => {
  const url = new URL(base);
  const req = request({ host: url.hostname, port: url.port, path, agent: false });
  req.on('error', () => {});
  req.end();
  return { abort: () => req.destroy() };
};

/**
 * Resolves what `promise` resolves, or `fallback` if it has not after `ms`: a liveness bound, many
 * times what the awaited event takes, so that an event that never comes fails the case instead of
 * hanging it.
 */
export const within = <T, F>(promise: Promise<T>, ms: number, fallback: F): Promise<T | F> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve(fallback), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });

/** The next chunk of a response body. */
export const nextChunk = (res: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    res.once('data', (chunk: Buffer) => {
      res.pause();
      resolve(chunk);
    });
    res.once('error', reject);
    res.resume();
  });

/** The rest of a response body. */
export const rest = (res: IncomingMessage): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.once('end', () => resolve(Buffer.concat(chunks)));
    res.once('error', reject);
    res.resume();
  });

/** How a response body ended: complete, cut off (the connection was aborted), or still open. */
export interface Ending {
  readonly status: number;
  readonly bytes: number;
  readonly end: 'clean' | 'aborted' | 'still open';
}

/**
 * Reads a response to its end and says how it ended. With `giveUpAfter`, a response still open
 * then is reported as `still open` and its request destroyed: that is how a known divergence that
 * would otherwise hold the connection for the runtime's own (long) limit is observed. It is a
 * liveness bound, many times the gateway's timeout, not a measurement.
 */
export const ending = (base: string, path: string, giveUpAfter?: number): Promise<Ending> =>
  new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = request({ host: url.hostname, port: url.port, path, agent: false });
    let timer: NodeJS.Timeout | undefined;
    req.on('error', reject);
    req.on('response', (res) => {
      let bytes = 0;
      const done = (end: Ending['end']): void => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, bytes, end });
      };
      res.on('data', (chunk: Buffer) => (bytes += chunk.byteLength));
      res.on('aborted', () => done('aborted'));
      res.on('error', () => done('aborted'));
      res.on('end', () => done('clean'));
      if (giveUpAfter !== undefined) {
        timer = setTimeout(() => {
          done('still open');
          req.destroy();
        }, giveUpAfter);
      }
    });
    req.end();
  });

/** Starts a chunked upload that sends a small chunk every 50 ms until aborted. */
export const drip = (base: string, path: string): { abort: () => void; response: Promise<number | undefined> } => {
  const url = new URL(base);
  const req = request({ host: url.hostname, port: url.port, path, method: 'POST', agent: false, headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' } });
  const response = new Promise<number | undefined>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.on('close', () => resolve(undefined));
  });
  const timer = setInterval(() => req.write('drip\n'), 50);
  req.write('drip\n');
  return {
    abort: () => {
      clearInterval(timer);
      req.destroy();
    },
    response,
  };
};

/**
 * Sends the headers and only the first part of a declared body, then waits for the response: for
 * a gateway that must answer before reading (413 on a declared Content-Length), without racing the
 * rest of the upload against the connection being closed.
 */
export const sendPartial = (base: string, path: string, headers: OutgoingHttpHeaders, first: Buffer): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const url = new URL(base);
    const req = request({ host: url.hostname, port: url.port, method: 'POST', path, headers, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const text = bytes.toString('utf8');
        req.destroy();
        resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, body: bytes, text, json: <T>() => JSON.parse(text) as T });
      });
    });
    req.write(first);
  });

/**
 * Asks again until `check` holds, for what a gateway records after the response reached the client
 * (settling runs on the response's close). A liveness bound of 200 attempts 50 ms apart (about
 * 10 s), not a measurement; on a host so busy that each ask takes long, at most 20 s, so that a
 * case waiting out a divergence stays inside jest's timeout.
 */
export const poll = async <T>(ask: () => Promise<T>, check: (value: T) => boolean): Promise<T> => {
  const giveUp = Date.now() + 20_000;
  let value = await ask();
  for (let attempt = 0; attempt < 200 && Date.now() < giveUp && !check(value); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await ask();
  }
  return value;
};
