// Serves the built participant page and dashboard (vite build → dist/).
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';

export interface StaticPageOptions {
  distDir: string;
}

async function staticPage(app: FastifyInstance, { distDir }: StaticPageOptions): Promise<void> {
  if (!existsSync(distDir)) {
    throw new Error(`${distDir} is missing: build the page first (\`npm run build\`; \`npm start\` does it for you)`);
  }
  await app.register(fastifyStatic, { root: distDir, prefix: '/' });
  app.get('/dashboard', async (_request, reply) => reply.redirect('/dashboard.html'));
}

export default fp(staticPage, { name: 'flock-static-page' });
