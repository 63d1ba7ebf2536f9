import { once } from 'node:events';
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';

export { eventually } from '../../../test/support/eventually.ts';
export { sleep, telemetry, tempDir } from '../../config/test/harness.ts';

/** A plain Node HTTP server as a release: it answers with its release name and pid. */
export function appSource(name: string, extra = ''): string {
  return `import http from 'node:http';
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/slow') return void setTimeout(() => res.end('${name} slow'), Number(url.searchParams.get('ms')));
  if (url.pathname === '/healthz') return void res.end('ok');
  res.end('${name}');
});
${extra}
server.listen(Number(process.env.PORT), '127.0.0.1');
`;
}

export async function writeApp(root: string, name: string, source = appSource(name)): Promise<void> {
  const dir = join(root, 'releases', name);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'server.mjs'), source);
}

/** Point `root/current` at a release, atomically (symlink + rename, as a deploy script does). */
export async function activate(root: string, name: string): Promise<void> {
  const tmp = join(root, `.current-${process.pid}-${Math.random().toString(16).slice(2)}`);
  await symlink(join('releases', name), tmp);
  await rename(tmp, join(root, 'current'));
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export interface Sample {
  started: number;
  ended: number;
  body?: string;
  status?: number;
  error?: string;
}

export function get(port: number, path: string, agent: Agent | false = false, timeoutMs = 30_000): Promise<Sample> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path, agent, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ started, ended: performance.now(), body, status: res.statusCode }));
      res.on('error', (err: NodeJS.ErrnoException) => resolve({ started, ended: performance.now(), error: err.code ?? err.message }));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ started, ended: performance.now(), error: err.code ?? err.message }));
    req.end();
  });
}

/**
 * Continuous keep-alive load: `clients` sequential loops, each on its own one-socket keep-alive
 * agent. Bounded by `stop()` and by `maxMs`.
 */
export function load(port: number, clients: number, maxMs = 120_000) {
  const samples: Sample[] = [];
  let stopped = false;
  const deadline = Date.now() + maxMs;
  const agents: Agent[] = [];
  const loops = Array.from({ length: clients }, async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    while (!stopped && Date.now() < deadline) samples.push(await get(port, '/', agent, 10_000));
  });
  return {
    samples,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      for (const a of agents) a.destroy();
    },
  };
}
