import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import ts from 'typescript';
import type { DocBlock } from './blocks.ts';

/** One compiler error, placed at its line in the markdown file (or in a prelude). */
export interface BlockError {
  readonly file: string;
  readonly line: number;
  readonly code: number;
  readonly message: string;
}

export interface CheckOptions {
  readonly blocks: readonly DocBlock[];
  /** Folder of `<name>.ts` preludes that excerpts name. */
  readonly preludeDir: string;
  /** The node_modules the temp project resolves packages from (symlinked into it). */
  readonly nodeModules: string;
  /** tsconfig whose compilerOptions the blocks are checked with. */
  readonly tsconfig: string;
  /** Reports name preludes relative to this folder (the repository root); absolute without it. */
  readonly root?: string;
}

/** The names a module declares or imports at its top level: a prelude must not shadow them. */
export const topLevelNames = (code: string): Set<string> => {
  const source = ts.createSourceFile('block.ts', code, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const names = new Set<string>();
  const bind = (name: ts.BindingName) => {
    if (ts.isIdentifier(name)) names.add(name.text);
    else for (const element of name.elements) if (!ts.isOmittedExpression(element)) bind(element.name);
  };
  for (const statement of source.statements) {
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      if (clause?.name) names.add(clause.name.text);
      const bindings = clause?.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) names.add(bindings.name.text);
      if (bindings && ts.isNamedImports(bindings)) for (const element of bindings.elements) names.add(element.name.text);
    } else if (ts.isImportEqualsDeclaration(statement)) {
      names.add(statement.name.text);
    } else if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) bind(declaration.name);
    } else if (
      (ts.isFunctionDeclaration(statement) || ts.isClassDeclaration(statement) || ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement) || ts.isEnumDeclaration(statement) || ts.isModuleDeclaration(statement)) &&
      statement.name &&
      ts.isIdentifier(statement.name)
    ) {
      names.add(statement.name.text);
    }
  }
  return names;
};

/** What a prelude exports, each marked as a type (imported with `type`) or a value. */
export const preludeExports = (code: string): Map<string, 'type' | 'value'> => {
  const source = ts.createSourceFile('prelude.ts', code, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const exports = new Map<string, 'type' | 'value'>();
  const exported = (node: ts.Node) => ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword);
  for (const statement of source.statements) {
    if (ts.isExportDeclaration(statement) && statement.exportClause && ts.isNamedExports(statement.exportClause)) {
      for (const element of statement.exportClause.elements) exports.set(element.name.text, statement.isTypeOnly || element.isTypeOnly ? 'type' : 'value');
    } else if (exported(statement)) {
      const kind = ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement) ? 'type' : 'value';
      for (const name of topLevelNames(statement.getText(source))) exports.set(name, kind);
    }
  }
  return exports;
};

const blockFileName = (block: DocBlock) => `${block.file.replace(/[^\w]+/g, '_')}_L${block.line}.ts`;

/**
 * Typechecks every block as a module of a temp project (strict, the workspace's compiler options)
 * and returns the errors by block. An excerpt's file starts with one line importing from its
 * preludes whatever they export and the block does not declare itself (the first prelude listed
 * wins a name two export), so the block's own lines keep their numbers.
 */
export const checkBlocks = ({ blocks, preludeDir, nodeModules, tsconfig, root }: CheckOptions): Map<DocBlock, BlockError[]> => {
  const shown = (path: string) => (root === undefined ? path : relative(root, path));
  const dir = mkdtempSync(join(tmpdir(), 'apigate-docs-check-'));
  try {
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module', private: true }));
    symlinkSync(nodeModules, join(dir, 'node_modules'), 'dir');
    mkdirSync(join(dir, 'preludes'));
    mkdirSync(join(dir, 'blocks'));

    const errors = new Map<DocBlock, BlockError[]>(blocks.map((block) => [block, []]));
    const preludes = new Map<string, Map<string, 'type' | 'value'>>();
    const preludeFiles = new Map<string, string>();
    const byFile = new Map<string, { block: DocBlock; offset: number }>();
    for (const block of blocks) {
      const own = topLevelNames(block.code);
      const imports: string[] = [];
      for (const name of block.preludes) {
        const source = join(preludeDir, `${name}.ts`);
        if (!existsSync(source)) {
          const known = readdirSync(preludeDir).filter((entry) => entry.endsWith('.ts')).map((entry) => entry.slice(0, -'.ts'.length));
          errors.get(block)!.push({ file: block.file, line: block.line - 1, code: 0, message: `the excerpt names prelude "${name}", which ${shown(preludeDir)}/ does not have (it has: ${known.sort().join(', ')})` });
          continue;
        }
        if (!preludes.has(name)) {
          const code = readFileSync(source, 'utf8');
          preludes.set(name, preludeExports(code));
          const target = join(dir, 'preludes', `${name}.ts`);
          writeFileSync(target, code);
          preludeFiles.set(target, shown(source));
        }
        // The block's own names win, then the preludes in the order the marker lists them.
        const names: string[] = [];
        for (const [exported, kind] of preludes.get(name)!) {
          if (own.has(exported)) continue;
          own.add(exported);
          names.push(kind === 'type' ? `type ${exported}` : exported);
        }
        if (names.length > 0) imports.push(`import { ${names.join(', ')} } from '../preludes/${name}.ts';`);
      }
      const file = join(dir, 'blocks', blockFileName(block));
      // The fence is the block's line 0 in the markdown: one prepended line keeps the numbers.
      writeFileSync(file, `${imports.join(' ')}\n${block.code}\n`);
      byFile.set(file, { block, offset: block.line });
    }

    const config = ts.readConfigFile(tsconfig, (path) => ts.sys.readFile(path));
    const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, dir, { noEmit: true, moduleDetection: ts.ModuleDetectionKind.Force }, tsconfig);
    const program = ts.createProgram({ rootNames: [...byFile.keys()], options: parsed.options });
    const place = (diagnostic: ts.Diagnostic): { block?: DocBlock; error: BlockError } | undefined => {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      if (!diagnostic.file || diagnostic.start === undefined) return undefined;
      const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
      const name = diagnostic.file.fileName;
      const at = [...byFile].find(([file]) => file === name || ts.sys.resolvePath(file) === name)?.[1];
      if (at) return { block: at.block, error: { file: at.block.file, line: at.offset + line, code: diagnostic.code, message } };
      const prelude = [...preludeFiles].find(([file]) => file === name)?.[1];
      if (prelude) return { error: { file: prelude, line: line + 1, code: diagnostic.code, message } };
      return undefined;
    };
    const global = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
    if (global.length > 0) throw new Error(ts.formatDiagnostics(global, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => dir, getNewLine: () => '\n' }));
    for (const source of program.getSourceFiles()) {
      const ours = byFile.has(source.fileName) || preludeFiles.has(source.fileName);
      if (!ours) continue;
      for (const diagnostic of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
        const placed = place(diagnostic);
        if (!placed) continue;
        // A prelude's own error belongs to every block that uses it.
        const owners = placed.block ? [placed.block] : blocks.filter((block) => block.preludes.some((name) => preludeFiles.get(join(dir, 'preludes', `${name}.ts`)) === placed.error.file));
        for (const owner of owners) {
          const list = errors.get(owner)!;
          // One line that names one missing thing three times is one report.
          if (!list.some((seen) => seen.file === placed.error.file && seen.line === placed.error.line && seen.message === placed.error.message)) list.push(placed.error);
        }
      }
    }
    return errors;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};
