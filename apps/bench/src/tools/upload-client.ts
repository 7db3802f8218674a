// Streams N MiB to a URL with backpressure, chunked; prints what the origin says it received.
import { request } from 'node:http';

const [url, mebibytes] = process.argv.slice(2);
if (url === undefined) throw new Error('usage: upload-client.ts url mebibytes');
const total = Number(mebibytes) * 1024 * 1024;
const chunk = Buffer.alloc(64 * 1024, 'x');
const started = performance.now();

const req = request(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' } }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (text: string) => {
    body += text;
  });
  res.on('end', () => {
    const seconds = (performance.now() - started) / 1000;
    process.stdout.write(`${JSON.stringify({ status: res.statusCode, sent: total, body, seconds })}\n`);
  });
});
req.on('error', (error) => {
  process.stdout.write(`${JSON.stringify({ error: error.message })}\n`);
  process.exitCode = 1;
});

let sent = 0;
const write = (): void => {
  while (sent < total) {
    sent += chunk.length;
    if (!req.write(chunk)) {
      req.once('drain', write);
      return;
    }
  }
  req.end();
};
write();
