/**
 * Keep-alive HTTP load against a loopback port, shared by the cluster upgrade tests and the
 * reload benchmark (test/bench/sections/reload-vs-pm2.ts), so both count a failed request the same way.
 */
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';

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
  /** The request went out on a kept-alive socket (an error there cut an established connection). */
  reused?: boolean;
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
    req.on('error', (err: NodeJS.ErrnoException) => resolve({ started, ended: performance.now(), error: err.code ?? err.message, reused: req.reusedSocket }));
    req.end();
  });
}

/**
 * Continuous load: `clients` sequential loops, each on its own one-socket keep-alive agent, or with
 * `keepAlive: false` a new connection per request (what `while true; do curl …; done` does: every
 * request is a connection the cluster primary hands to some worker). Bounded by `stop()` and `maxMs`.
 */
export function load(port: number, clients: number, maxMs = 120_000, options: { keepAlive?: boolean; path?: string } = {}) {
  const keepAlive = options.keepAlive ?? true;
  const path = options.path ?? '/';
  const samples: Sample[] = [];
  let stopped = false;
  const deadline = Date.now() + maxMs;
  const agents: Agent[] = [];
  const loops = Array.from({ length: clients }, async () => {
    const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
    if (agent) agents.push(agent);
    while (!stopped && Date.now() < deadline) samples.push(await get(port, path, agent, 10_000));
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
