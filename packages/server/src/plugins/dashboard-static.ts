import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import type { App } from '../routes/route-context.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * A file of the dashboard, not an API operation: kept out of the route registry (and so
     * of the OpenAPI and auth-matrix checks, which are about the API). Always public.
     */
    staticFile?: boolean;
  }
}

/**
 * The single-page app's own paths (packages/dashboard/src/lib/router.ts): each answers with
 * index.html, so a deep link or a reload lands on the right page. Only these: every other
 * unknown path keeps the API's 404 in its error shape.
 */
const APP_PATHS = ['/jobs', '/jobs/:id', '/agents', '/queues', '/access'];

const NOT_BUILT =
  'The offload dashboard is not built. Build it with `npm run build` in the offload repository ' +
  '(`npm install` does it too), then restart the server. The API is at /api/v1 and its docs at /docs.\n';

/**
 * Serves the dashboard's built assets (packages/dashboard/dist, passed in by the CLI: the
 * server does not depend on the dashboard package) at `/`:
 * - `/assets/*`: Vite's content-hashed files, cached for a year (`immutable`);
 * - `/` and the app's own paths: index.html with `no-cache`, so a new build is picked up at once;
 * - the other files at the top of dist (the favicon), cached for an hour.
 * Without a built dashboard, `/` and the app's paths say how to build it; the API is unaffected
 * either way. The routes are the same built or not, and public: the files hold no data, and
 * every API call the app makes carries the user's key.
 */
export async function installDashboard(app: App, dir: string | null | undefined): Promise<void> {
  const root = dir ? path.resolve(dir) : null;
  const built = root !== null && existsSync(path.join(root, 'index.html'));
  if (built) await app.register(fastifyStatic, { root, serve: false });
  const route = {
    config: { auth: { public: true as const }, staticFile: true },
    schema: { hide: true },
  };

  const sendIndex = async (_request: unknown, reply: FastifyReply) => {
    if (!built) return reply.type('text/plain; charset=utf-8').send(NOT_BUILT);
    return reply
      .header('cache-control', 'no-cache')
      .sendFile('index.html', root, { cacheControl: false });
  };
  for (const url of ['/', ...APP_PATHS]) app.get(url, route, sendIndex);

  app.get('/assets/*', route, async (request, reply) => {
    if (!built) return reply.callNotFound();
    const file = (request.params as { '*': string })['*'];
    return reply.sendFile(file, path.join(root, 'assets'), {
      maxAge: 365 * 86_400_000,
      immutable: true,
    });
  });

  if (built) {
    for (const name of readdirSync(root)) {
      if (name === 'index.html' || !statSync(path.join(root, name)).isFile()) continue;
      app.get(`/${name}`, route, async (_request, reply) =>
        reply.sendFile(name, root, { maxAge: 3_600_000 }),
      );
    }
  }
}
