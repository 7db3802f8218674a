import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { output } from './system.ts';

/** The nginx binary: on PATH, or Debian's /usr/sbin/nginx (not on a non-root PATH). */
export const nginxBinary = (): string | undefined => {
  const found = output('sh', ['-c', 'command -v nginx']);
  if (found !== undefined && found !== '') return found;
  return existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined;
};

/** The tiny JSON document the origin answers. */
export const tinyJson = '{"ok":true,"id":42,"name":"apigate","tags":["gateway","bench"]}';

const common = (dir: string, name: string): string => `
worker_processes 1;
daemon off;
master_process on;
pid ${join(dir, `${name}.pid`)};
error_log ${join(dir, `${name}-error.log`)} warn;
events { worker_connections 8192; multi_accept on; }
`;

const temps = (dir: string, name: string): string =>
  ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${join(dir, `${name}-${kind}-temp`)};`).join('\n');

/**
 * The origin: one worker; /tiny (JSON from memory), /64k (a static 64 KiB file), /orders (POST, a
 * small JSON body, answered at once) and /upload (POST: nginx reads the whole body into memory before
 * it answers, by proxying a body-less request to its own /uploaded). A bare `return 200` would answer
 * before the body arrived and leave the proxies to deal with an early response on a half-sent
 * upload. Listens on two ports, so the sticky route has two backends.
 */
export const originConfig = (dir: string, ports: readonly [number, number]): string => {
  const root = join(dir, 'www');
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, '64k'), Buffer.alloc(64 * 1024, 'x'));
  return `${common(dir, 'origin')}
http {
  access_log off;
${temps(dir, 'origin')}
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_max_body_size 0;
  upstream self {
    server 127.0.0.1:${ports[0]};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${ports[0]} reuseport backlog=4096;
    listen 127.0.0.1:${ports[1]} reuseport backlog=4096;
    root ${root};
    location = /tiny { default_type application/json; return 200 '${tinyJson}'; }
    location = /64k { default_type application/octet-stream; }
    location = /upload {
      client_body_buffer_size 2m;
      proxy_pass http://self/uploaded;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Content-Type "";
    }
    location = /uploaded { default_type application/json; return 200 '{"ok":true}'; }
    location = /orders { default_type application/json; return 200 '{"accepted":true}'; }
    # Counts the connections the origin accepted: the harness reads it around a run to see
    # whether a contestant's upstream pool opened new connections under a steady load.
    location = /status { stub_status; }
    location / { return 404; }
  }
}
`;
};

/**
 * Connections the origin has accepted so far (its stub_status), this probe's own included (it
 * opens a connection of its own every time), or NaN if it cannot tell.
 */
export const originAccepts = (origin: string): Promise<number> =>
  new Promise((resolve) => {
    const req = get(`${origin}/status`, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      // "server accepts handled requests\n N N N"
      res.on('end', () => resolve(Number(/accepts handled requests\s+(\d+)/.exec(text)?.[1] ?? Number.NaN)));
    });
    req.on('error', () => resolve(Number.NaN));
  });

/** nginx as the reverse proxy contestant: one worker, a keep-alive upstream pool, /api/ stripped. */
export const proxyConfig = (dir: string, port: number, originPort: number): string => `${common(dir, 'proxy')}
http {
  access_log off;
${temps(dir, 'proxy')}
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_max_body_size 0;
  upstream origin {
    server 127.0.0.1:${originPort};
    keepalive 256;
    keepalive_requests 10000000;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location /api/ {
      proxy_pass http://origin/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_request_buffering off;
      proxy_buffers 16 16k;
      proxy_busy_buffers_size 32k;
      proxy_max_temp_file_size 0;
    }
  }
}
`;

/** The first line of `nginx -v`. */
export const nginxVersion = (binary: string): string => output(binary, ['-v'])?.replace(/^nginx version:\s*/, '') ?? 'unknown';
