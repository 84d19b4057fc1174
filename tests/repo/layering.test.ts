import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repoRoot = join(import.meta.dirname, '..', '..');
const script = join(repoRoot, 'scripts', 'check-deps.js');

function checkDeps(root?: string) {
  const args = root === undefined ? [script] : [script, root];
  const run = spawnSync(process.execPath, args, { encoding: 'utf8', timeout: 20_000 });
  return { status: run.status, output: run.stdout + run.stderr };
}

describe('package layering (scripts/check-deps.js)', () => {
  it('passes on this repository', () => {
    const { status, output } = checkDeps();
    expect(output).toContain('layering ok');
    expect(status).toBe(0);
  });

  describe('on a repository that breaks the rules', () => {
    let root = '';
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    const pkg = (dir: string, deps: Record<string, string>, sources: Record<string, string>) => {
      const base = join(root, 'packages', dir);
      mkdirSync(join(base, 'src'), { recursive: true });
      writeFileSync(
        join(base, 'package.json'),
        JSON.stringify({ name: `@offload/${dir}`, dependencies: deps }),
      );
      const references = Object.keys(deps)
        .filter((d) => d.startsWith('@offload/'))
        .map((d) => ({ path: `../${d.slice('@offload/'.length)}` }));
      writeFileSync(join(base, 'tsconfig.json'), JSON.stringify({ references }));
      for (const [file, text] of Object.entries(sources))
        writeFileSync(join(base, 'src', file), text);
    };

    beforeAll(() => {
      root = mkdtempSync(join(tmpdir(), 'offload-check-deps-'));
      pkg('protocol', {}, { 'index.ts': 'export const x = 1;\n' });
      // core reaching up to store: forbidden by layering, both as a dependency and as an import.
      pkg(
        'core',
        { '@offload/protocol': '0.1.0', '@offload/store': '0.1.0' },
        {
          'index.ts': "import { s } from '@offload/store';\nexport const c = s;\n",
        },
      );
      // store imports core without declaring it.
      pkg(
        'store',
        { '@offload/protocol': '0.1.0' },
        {
          'index.ts':
            "import { x } from '@offload/protocol';\nimport { c } from '@offload/core';\nexport const s = x + c;\n",
        },
      );
      pkg('mystery', {}, { 'index.ts': 'export {};\n' });
    });

    it('fails and names each problem', () => {
      const { status, output } = checkDeps(root);
      expect(status).toBe(1);
      expect(output).toContain('core must not depend on @offload/store');
      expect(output).toContain('packages/core/src/index.ts:1: core must not import @offload/store');
      expect(output).toContain(
        'packages/store/src/index.ts:2: imports @offload/core, which packages/store/package.json does not declare',
      );
      expect(output).toContain('package "mystery" has no layer');
    });
  });
});
