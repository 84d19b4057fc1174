import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import type { App } from '../routes/route-context.js';

/** Paths that belong to the API and the server, never to the single-page app. */
const SERVER_PATHS = /^\/(?:api\/|docs(?:\/|$)|openapi\.json$|metrics$|healthz$|readyz$)/;

const NOT_BUILT =
  'The offload dashboard is not built. Build it with `npm run build` in the offload repository ' +
  '(`npm install` does it too), then restart the server. The API is at /api/v1 and its docs at /docs.\n';

/**
 * Serves the dashboard's built assets (packages/dashboard/dist, passed in by the CLI: the
 * server does not depend on the dashboard package) at `/`:
 * - `/assets/*`: Vite's content-hashed files, cached for a year (`immutable`);
 * - `/` and every other GET path that is not the API's: index.html with `no-cache`, so the
 *   app's own routes (`/jobs/abc`) survive a reload and a new build is picked up at once;
 * - other files at the top of dist (favicon) as they are.
 * Without a built dashboard, `/` says how to build it and the API is unaffected. The routes
 * are the same either way, so the access rules (all public: the app holds no data; every
 * API call it makes carries the user's key) do not depend on the build.
 */
export async function installDashboard(app: App, dir: string | null | undefined): Promise<void> {
  const root = dir ? path.resolve(dir) : null;
  const built = root !== null && existsSync(path.join(root, 'index.html'));
  if (built) await app.register(fastifyStatic, { root, serve: false });
  const topFiles = built
    ? new Set(
        readdirSync(root)
          .filter((f) => f !== 'index.html' && statSync(path.join(root, f)).isFile())
          .map((f) => `/${f}`),
      )
    : new Set<string>();

  const sendIndex = (reply: FastifyReply) => {
    if (!built) return reply.type('text/plain; charset=utf-8').send(NOT_BUILT);
    return reply
      .header('cache-control', 'no-cache')
      .sendFile('index.html', root, { cacheControl: false });
  };
  const route = { config: { auth: { public: true as const } }, schema: { hide: true } };

  app.get('/', route, async (_request, reply) => sendIndex(reply));

  app.get('/assets/*', route, async (request, reply) => {
    if (!built) return reply.callNotFound();
    const file = (request.params as { '*': string })['*'];
    return reply.sendFile(file, path.join(root, 'assets'), {
      maxAge: 365 * 86_400_000,
      immutable: true,
    });
  });

  // The SPA fallback: any other GET that is not a server path gets the app.
  app.get('/*', route, async (request, reply) => {
    const pathname = request.url.split('?')[0] ?? '/';
    if (SERVER_PATHS.test(pathname)) return reply.callNotFound();
    if (built && topFiles.has(pathname))
      return reply.sendFile(pathname.slice(1), root, { maxAge: 3_600_000 });
    return sendIndex(reply);
  });
}
