import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The `@example` blocks of the SDK's TSDoc are code: this test extracts every one from the
 * sources and type-checks it against them, with the strict options the repo builds with, so an
 * example cannot drift from the API it documents. It also checks that every public method of
 * every class the entry points export has one.
 */
const pkg = path.resolve(import.meta.dirname, '..');
const src = path.join(pkg, 'src');
const sourceFiles = readdirSync(src)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => path.join(src, f));

/**
 * What every example sees, as a reader of the docs would: the SDK's names imported from the
 * entry its file belongs to (`browser.ts`: the browser entry), a client `off` and an agent
 * client `agent`. (Examples carry no import lines of their own: scripts/check-deps.js reads
 * `from '@offload/...'` even in comments, and a package may not import itself.)
 */
const prelude = (file: string) => `import {
  AgentClient, ApiErrorClasses, JobFailedError, Offload, OffloadApiError, OffloadError,
  OffloadNetworkError, OffloadTimeoutError,
} from '@offload/client${path.basename(file) === 'browser.ts' ? '/browser' : ''}';
declare const off: Offload;
declare const agent: AgentClient;
`;

interface Example {
  file: string;
  where: string;
  code: string;
}

function extractExamples(file: string): Example[] {
  const text = readFileSync(file, 'utf8');
  const out: Example[] = [];
  for (const comment of text.matchAll(/\/\*\*([\s\S]*?)\*\//g)) {
    const body = comment[1]!
      .split('\n')
      .map((l) => l.replace(/^\s*\* ?/, ''))
      .join('\n');
    for (const ex of body.matchAll(/@example\s*\n```ts\n([\s\S]*?)\n```/g)) {
      const line = text.slice(0, comment.index + (ex.index ?? 0)).split('\n').length;
      out.push({ file, where: `${path.basename(file)}:${line}`, code: ex[1]! });
    }
  }
  return out;
}

const examples = sourceFiles.flatMap(extractExamples);

function compilerOptions(): ts.CompilerOptions {
  return {
    target: ts.ScriptTarget.ES2022,
    lib: ['lib.es2023.d.ts'],
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    strict: true,
    noUncheckedIndexedAccess: true,
    exactOptionalPropertyTypes: true,
    verbatimModuleSyntax: true,
    skipLibCheck: true,
    noEmit: true,
    types: ['node'],
    typeRoots: [path.resolve(pkg, '../../node_modules/@types')],
    paths: {
      '@offload/client': [path.join(src, 'index.ts')],
      '@offload/client/browser': [path.join(src, 'browser.ts')],
      '@offload/protocol': [path.resolve(pkg, '../protocol/src/index.ts')],
    },
  };
}

/** A program over the sources plus each example as a virtual file next to them. */
function program(virtual: Map<string, string>): ts.Program {
  const options = compilerOptions();
  const host = ts.createCompilerHost(options, true);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (f) => virtual.has(f) || fileExists.call(host, f);
  host.readFile = (f) => virtual.get(f) ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, onError, create) => {
    const text = virtual.get(f);
    return text !== undefined
      ? ts.createSourceFile(f, text, lang)
      : getSourceFile.call(host, f, lang, onError, create);
  };
  return ts.createProgram([...virtual.keys(), ...sourceFiles], options, host);
}

describe('TSDoc @example blocks', () => {
  const virtual = new Map<string, string>();
  examples.forEach((ex, i) => {
    virtual.set(
      path.join(pkg, 'test', '__examples__', `example-${i}.ts`),
      `${prelude(ex.file)}${ex.code}\nexport {};\n`,
    );
  });
  const prog = program(virtual);

  it('are found in the sources', () => {
    expect(examples.length).toBeGreaterThanOrEqual(40);
  });

  it('all type-check against the SDK', () => {
    const problems: string[] = [];
    const files = [...virtual.keys()];
    files.forEach((file, i) => {
      const sf = prog.getSourceFile(file)!;
      const diags = [...prog.getSyntacticDiagnostics(sf), ...prog.getSemanticDiagnostics(sf)];
      for (const d of diags) {
        const msg = ts.flattenDiagnosticMessageText(d.messageText, '\n');
        problems.push(`${examples[i]!.where}: ${msg}\n${examples[i]!.code}`);
      }
    });
    expect(problems).toEqual([]);
  });

  it('exist on every public method of every exported class', () => {
    const checker = prog.getTypeChecker();
    const missing: string[] = [];
    for (const entry of ['index.ts', 'browser.ts']) {
      const sf = prog.getSourceFile(path.join(src, entry))!;
      const mod = checker.getSymbolAtLocation(sf)!;
      for (const exported of checker.getExportsOfModule(mod)) {
        const sym =
          exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
        const decl = sym.declarations?.find(ts.isClassDeclaration);
        if (!decl) continue;
        const byName = new Map<string, boolean>();
        for (const m of decl.members) {
          if (!ts.isMethodDeclaration(m) || !m.name || !ts.isIdentifier(m.name)) continue;
          const mods = ts.getCombinedModifierFlags(m);
          if (mods & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) continue;
          byName.set(m.name.text, (byName.get(m.name.text) ?? false) || hasExample(m));
        }
        for (const [name, ok] of byName) if (!ok) missing.push(`${sym.name}.${name}`);
      }
    }
    expect([...new Set(missing)]).toEqual([]);
  });
});

function hasExample(node: ts.Node): boolean {
  return ts.getJSDocTags(node).some((t) => t.tagName.text === 'example');
}
