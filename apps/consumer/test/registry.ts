import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { basename } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { closeServer, listen } from '@apigate/test-utils/http';

// A loopback npm registry for one scope, serving the tarballs `pnpm pack` wrote, so that npm and
// pnpm install @apigate/* by name and version, as from npmjs.com after a publish, and resolve the
// packages' dependencies on each other through the ranges `pnpm pack` wrote (a tarball installed
// by path has no registry behind it: pnpm then fails with ERR_PNPM_FETCH_404 on those ranges).
// The app's .npmrc routes only the @apigate scope here; everything else comes from the npm
// registry.

/** A file's bytes from a gzipped tar (ustar, as npm and pnpm write it). */
export const fileFromTarball = (tgz: Buffer, path: string): Buffer => {
  const tar = gunzipSync(tgz);
  for (let offset = 0; offset + 512 <= tar.length; ) {
    const header = tar.subarray(offset, offset + 512);
    const field = (start: number, length: number): string => header.subarray(start, start + length).toString('utf8').replace(/\0.*$/s, '');
    const name = field(0, 100);
    if (name === '') break;
    const prefix = field(345, 155);
    const size = Number.parseInt(field(124, 12).trim() || '0', 8);
    if ((prefix === '' ? name : `${prefix}/${name}`) === path) return tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${path} is not in the tarball`);
};

export interface Packed {
  readonly name: string;
  readonly version: string;
  /** The manifest inside the tarball, with workspace: ranges rewritten. */
  readonly manifest: Record<string, unknown> & { dependencies?: Record<string, string>; peerDependencies?: Record<string, string> };
  readonly file: string;
}

export const readPacked = (file: string): Packed => {
  const manifest = JSON.parse(fileFromTarball(readFileSync(file), 'package/package.json').toString('utf8')) as Packed['manifest'];
  return { name: manifest.name as string, version: manifest.version as string, manifest, file };
};

export interface Registry {
  readonly url: string;
  /** Package names asked for, in order (npm and pnpm each ask once per package). */
  readonly asked: string[];
  readonly close: () => Promise<void>;
}

export const startRegistry = async (packed: readonly Packed[]): Promise<Registry> => {
  const byName = new Map(packed.map((pkg) => [pkg.name, pkg]));
  const byFile = new Map(packed.map((pkg) => [basename(pkg.file), pkg]));
  const asked: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://registry').pathname).slice(1);
    const tarball = path.startsWith('-/') ? byFile.get(path.slice(2)) : undefined;
    if (tarball) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(readFileSync(tarball.file));
      return;
    }
    const pkg = byName.get(path);
    if (!pkg) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
      return;
    }
    asked.push(pkg.name);
    const bytes = readFileSync(pkg.file);
    const dist = {
      tarball: `${url}/-/${basename(pkg.file)}`,
      integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
      shasum: createHash('sha1').update(bytes).digest('hex'),
    };
    const packument = {
      name: pkg.name,
      'dist-tags': { latest: pkg.version },
      versions: { [pkg.version]: { ...pkg.manifest, _id: `${pkg.name}@${pkg.version}`, dist } },
      time: { [pkg.version]: new Date(0).toISOString() },
    };
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(packument));
  });
  const url = `http://127.0.0.1:${await listen(server)}`;
  return { url, asked, close: () => closeServer(server) };
};
