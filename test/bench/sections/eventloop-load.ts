/**
 * Load from a second process on loopback, bounded in count and in time: `concurrency` keep-alive
 * clients issue GETs back to back. Usage: eventloop-load.ts <port> <durationMs> <maxRequests> <concurrency>
 */
import { Agent, request } from 'node:http';

const [port, durationMs, maxRequests, concurrency] = process.argv.slice(2).map(Number) as [number, number, number, number];
if (!(port > 0 && durationMs > 0 && maxRequests > 0 && concurrency > 0)) {
  throw new Error('usage: eventloop-load.ts <port> <durationMs> <maxRequests> <concurrency>');
}
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const deadline = performance.now() + durationMs;
let issued = 0;
let errors = 0;
const latencies: number[] = [];

function get(path: string): Promise<void> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) latencies.push(performance.now() - t0);
        else errors++;
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end();
  });
}

async function client(id: number): Promise<void> {
  while (issued < maxRequests && performance.now() < deadline) {
    issued++;
    await get(`/route/${id}/${issued % 97}`);
  }
}

async function main(): Promise<void> {
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, (_, i) => client(i)));
  const seconds = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  agent.destroy();
  process.send?.({ requests: latencies.length, errors, rps: latencies.length / seconds, p50: at(0.5), p99: at(0.99) }, () => process.exit(0));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
