import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import ts from 'typescript';

const builtins = new Set(builtinModules);

/**
 * Every module specifier a declaration file names: imports, re-exports, `import()` types and
 * (as `types:name`) `/// <reference types>`. TypeScript's own pre-processor reads them, so an
 * import in a JSDoc example or a template literal type is not mistaken for one.
 */
export const typeImports = (dts: string): string[] => {
  const { importedFiles, typeReferenceDirectives } = ts.preProcessFile(dts, true, true);
  return [...new Set([...importedFiles.map((file) => file.fileName), ...typeReferenceDirectives.map((file) => `types:${file.fileName}`)])];
};

/**
 * The package a specifier needs installed, or undefined for a relative path or a Node built-in
 * (whose types come from the consumer's @types/node, as for any Node library).
 */
export const packageOf = (specifier: string): string | undefined => {
  if (specifier.startsWith('types:')) {
    const name = specifier.slice('types:'.length);
    return name === 'node' ? undefined : packageOf(name);
  }
  if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:')) return undefined;
  const parts = specifier.split('/');
  const name = specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
  return builtins.has(name) ? undefined : name;
};

const declarationFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return declarationFiles(path);
    return /\.d\.[cm]?ts$/.test(entry.name) ? [path] : [];
  });

export interface MissingDependency {
  /** The declaration file, relative to the package. */
  readonly file: string;
  readonly specifier: string;
  /** The package it needs, absent from `dependencies` and `peerDependencies`. */
  readonly needs: string;
}

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

/**
 * What the package's built types import without declaring it: a consumer who installs the package
 * alone gets unresolved types there (a devDependency is not installed with it). A package `x`
 * also counts as declared through `@types/x`.
 */
export const missingTypeDependencies = (packageDir: string): MissingDependency[] => {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as Manifest;
  const dist = join(packageDir, 'dist');
  if (!existsSync(dist)) throw new Error(`${manifest.name} has no dist/: build it first (pnpm build)`);
  const declared = new Set([manifest.name, ...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
  const typesName = (name: string) => `@types/${name.startsWith('@') ? name.slice(1).replace('/', '__') : name}`;
  const missing: MissingDependency[] = [];
  for (const path of declarationFiles(dist)) {
    for (const specifier of typeImports(readFileSync(path, 'utf8'))) {
      const needs = packageOf(specifier);
      if (needs === undefined || declared.has(needs) || declared.has(typesName(needs))) continue;
      missing.push({ file: relative(packageDir, path), specifier: specifier.replace(/^types:/, ''), needs });
    }
  }
  return missing;
};
