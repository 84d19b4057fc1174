import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// `vite build` writes dist/ (index.html + content-hashed assets/), which the server serves at /.
// `vite` (dev) proxies the API to a local `offload start` on :7070.
export default defineConfig({
  plugins: [react()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true, chunkSizeWarningLimit: 1024 },
  server: {
    proxy: Object.fromEntries(
      ['/api', '/healthz', '/readyz'].map((p) => [p, 'http://127.0.0.1:7070']),
    ),
  },
});
