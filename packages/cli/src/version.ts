import fs from 'node:fs';

/** The CLI package's version (read from its package.json, next to both src/ and dist/). */
export function cliVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version?: string;
  };
  return pkg.version ?? '0.0.0';
}
