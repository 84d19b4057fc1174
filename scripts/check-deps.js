#!/usr/bin/env node
// Checks that workspace packages depend downward only (docs: ARCHITECTURE "Layout").
//
//   node scripts/check-deps.js [repo-root]
//
// 1. Each packages/<dir>/package.json may depend (any dependency field) only on the @offload/*
//    packages its layer allows, and a package missing from ALLOWED fails: add it here first.
// 2. Each `@offload/*` import in packages/<dir>/src/**/*.{ts,tsx,mts,cts} is declared in that
//    package's dependencies (or peer/optional; a devDependency is enough for `import type` only).
// 3. Each declared @offload dependency is a project reference in packages/<dir>/tsconfig.json,
//    so `tsc -b` builds it first.
// Exits 1 listing every problem. No dependencies: it runs before anything is built.
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

/** Which workspace packages each package may use. protocol ← core ← store ← server; protocol ← client ← cli. */
export const ALLOWED = {
  protocol: [],
  core: ['protocol'],
  store: ['protocol', 'core'],
  server: ['protocol', 'core', 'store'],
  client: ['protocol'],
  agent: ['protocol', 'core', 'client'],
  cli: ['protocol', 'core', 'store', 'server', 'client', 'agent', 'dashboard'],
  dashboard: ['protocol', 'client'],
};

const SCOPE = '@offload/';
const RUNTIME_FIELDS = ['dependencies', 'peerDependencies', 'optionalDependencies'];
const SOURCE_EXT = /\.(?:ts|tsx|mts|cts)$/;
// Static imports/exports (`from '...'`, bare `import '...'`), dynamic import() and require().
const IMPORT_RE =
  /(?:\bfrom\s*|\bimport\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)(['"])(@offload\/[^'"]+)\1/g;

/** @param {string} file @returns {Record<string, unknown>} */
function readJson(file) {
  /** @type {unknown} */
  const value = JSON.parse(stripJsonComments(readFileSync(file, 'utf8')));
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${file}: expected a JSON object`);
  }
  return /** @type {Record<string, unknown>} */ (value);
}

/** tsconfig files may hold comments and trailing commas; drop them outside strings. @param {string} text */
function stripJsonComments(text) {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && text[i + 1] === '*') {
      i = text.indexOf('*/', i + 2) + 1;
      if (i === 0) break;
    } else {
      out += c;
    }
  }
  return out.replace(/,(\s*[}\]])/g, '$1');
}

/** @param {string} dir @returns {string[]} */
function sourceFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return SOURCE_EXT.test(e.name) && !e.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** `@offload/store/testing` → `store`. @param {string} specifier */
function packageOf(specifier) {
  return specifier.slice(SCOPE.length).split('/')[0] ?? '';
}

/** @param {Record<string, unknown>} pkg @param {string} field @returns {string[]} */
function workspaceDeps(pkg, field) {
  const deps = pkg[field];
  if (deps == null || typeof deps !== 'object') return [];
  return Object.keys(deps)
    .filter((name) => name.startsWith(SCOPE))
    .map(packageOf);
}

/**
 * @param {string} root
 * @returns {{ problems: string[], packages: number, imports: number }}
 */
export function checkDeps(root) {
  /** @type {string[]} */
  const problems = [];
  let imports = 0;
  const packagesDir = join(root, 'packages');
  const dirs = readdirSync(packagesDir).filter((d) =>
    existsSync(join(packagesDir, d, 'package.json')),
  );

  for (const dir of dirs) {
    const pkgFile = join(packagesDir, dir, 'package.json');
    const where = relative(root, pkgFile);
    const pkg = readJson(pkgFile);
    if (pkg['name'] !== SCOPE + dir) {
      problems.push(`${where}: name is ${JSON.stringify(pkg['name'])}, expected "${SCOPE}${dir}"`);
    }
    const allowed = /** @type {Record<string, string[] | undefined>} */ (ALLOWED)[dir];
    if (allowed === undefined) {
      problems.push(
        `${where}: package "${dir}" has no layer; add it to ALLOWED in scripts/check-deps.js`,
      );
      continue;
    }

    const runtime = new Set(RUNTIME_FIELDS.flatMap((f) => workspaceDeps(pkg, f)));
    const dev = new Set(workspaceDeps(pkg, 'devDependencies'));
    for (const dep of new Set([...runtime, ...dev])) {
      if (!allowed.includes(dep)) {
        const may = allowed.length > 0 ? allowed.join(', ') : 'no workspace package';
        problems.push(`${where}: ${dir} must not depend on ${SCOPE}${dep} (${dir} may use ${may})`);
      }
    }

    const tsconfigFile = join(packagesDir, dir, 'tsconfig.json');
    if (existsSync(tsconfigFile)) {
      const refs =
        /** @type {{ path?: unknown }[] | undefined} */ (readJson(tsconfigFile)['references']) ??
        [];
      const referenced = new Set(
        refs.map((r) => resolve(packagesDir, dir, typeof r.path === 'string' ? r.path : '')),
      );
      for (const dep of runtime) {
        if (existsSync(join(packagesDir, dep)) && !referenced.has(join(packagesDir, dep))) {
          problems.push(
            `${relative(root, tsconfigFile)}: missing { "path": "../${dep}" } in references`,
          );
        }
      }
    }

    for (const file of sourceFiles(join(packagesDir, dir, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(IMPORT_RE)) {
        imports++;
        const specifier = /** @type {string} */ (match[2]);
        const dep = packageOf(specifier);
        const line = text.slice(0, match.index).split('\n').length;
        const at = `${relative(root, file)}:${line}`;
        const typeOnly = /\b(?:import|export)\s+type\s/.test(statementBefore(text, match.index));
        if (dep === dir) {
          problems.push(`${at}: imports its own package ${specifier}; use a relative import`);
        } else if (!allowed.includes(dep)) {
          problems.push(`${at}: ${dir} must not import ${specifier} (layering)`);
        } else if (!runtime.has(dep) && !(typeOnly && dev.has(dep))) {
          problems.push(
            `${at}: imports ${specifier}, which ${where} does not declare in dependencies`,
          );
        }
      }
    }
  }
  return { problems, packages: dirs.length, imports };
}

/**
 * The text from the end of the previous statement up to `index`: enough to see `import type {`.
 * @param {string} text @param {number} index
 */
function statementBefore(text, index) {
  const from = Math.max(text.lastIndexOf(';', index), text.lastIndexOf('\n\n', index), 0);
  return text.slice(from, index);
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === import.meta.filename;
if (isMain) {
  const root = resolve(process.argv[2] ?? join(import.meta.dirname, '..'));
  if (!statSync(join(root, 'packages'), { throwIfNoEntry: false })?.isDirectory()) {
    console.error(`check-deps: no packages/ directory in ${root}`);
    process.exit(2);
  }
  const { problems, packages, imports } = checkDeps(root);
  if (problems.length > 0) {
    console.error(`check-deps: ${problems.length} problem(s):`);
    for (const p of problems) console.error(`  ${p}`);
    process.exitCode = 1;
  } else {
    console.log(`check-deps: ${packages} packages, ${imports} @offload imports, layering ok`);
  }
}
