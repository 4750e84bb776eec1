// Serves the built participant page and dashboard (vite build → dist/).
import type { FastifyInstance } from 'fastify';
import fastifyStatic from '@fastify/static';
import { existsSync } from 'node:fs';

export interface StaticPageOptions {
  distDir: string;
}

export default async function staticPage(app: FastifyInstance, { distDir }: StaticPageOptions): Promise<void> {
  if (!existsSync(distDir)) {
    throw new Error(`${distDir} is missing: build the page first (\`npm run build\`; \`npm start\` does it for you)`);
  }
  await app.register(fastifyStatic, { root: distDir, prefix: '/' });
  app.get('/dashboard', async (_request, reply) => reply.redirect('/dashboard.html'));
}

