import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The directory of the built dashboard (`vite build` output: index.html and assets/), for the
 * server to serve at `/`. The CLI passes it to the server, which does not depend on this package.
 */
export const dashboardDistDir: string = fileURLToPath(new URL('../dist', import.meta.url));

/** Whether the dashboard has been built (`npm run build`). */
export function dashboardBuilt(): boolean {
  return existsSync(`${dashboardDistDir}/index.html`);
}
