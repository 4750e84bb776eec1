// Two pages: the participant page (index.html) and the dashboard (dashboard.html).
import { defineConfig } from 'vite';
import { resolve } from 'node:path';

export default defineConfig({
  root: 'web',
  publicDir: resolve(__dirname, 'public'),
  build: {
    outDir: resolve(__dirname, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
    chunkSizeWarningLimit: 4000,
    rollupOptions: {
      input: {
        participant: resolve(__dirname, 'web/index.html'),
        dashboard: resolve(__dirname, 'web/dashboard.html'),
        bench: resolve(__dirname, 'web/bench/tab-speed.html'),
      },
    },
  },
  worker: { format: 'es' },
});
