/**
 * The worker's own hold (worker-listeners.ts), without the supervisor's interception of the
 * handoff in the primary: a plain node:cluster primary hands a held worker connections, and the
 * worker refuses every one of them until `serve`, so the other worker answers them all.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { freePort, tempDir } from './harness.ts';

const BOOTSTRAP = new URL('../src/bootstrap.ts', import.meta.url).href;

const PRIMARY = `import cluster from 'node:cluster';
import http from 'node:http';
const port = Number(process.env.PORT);
const ask = () => new Promise((resolve) => http.get({ host: '127.0.0.1', port, agent: false }, (res) => {
  let body = ''; res.on('data', (d) => (body += d)); res.on('end', () => resolve(body));
}).on('error', (err) => resolve(err.code)));
const count = async (n) => {
  const seen = {};
  await Promise.all(Array.from({ length: 4 }, async () => { for (let i = 0; i < n / 4; i++) { const b = await ask(); seen[b] = (seen[b] ?? 0) + 1; } }));
  return seen;
};
if (cluster.isPrimary) {
  cluster.setupPrimary({ execArgv: [] });
  const serving = cluster.fork({ ROLE: 'serving' });
  await new Promise((r) => serving.once('listening', r));
  cluster.setupPrimary({ execArgv: ['--import', process.env.BOOTSTRAP] });
  const held = cluster.fork({ ROLE: 'held', RELOADSCOPE_CLUSTER_HOLD: '1' });
  const reports = [];
  held.on('message', (m) => reports.push(m['reloadscope.cluster']));
  await new Promise((r) => held.once('listening', r));
  const before = await count(200);
  held.send({ 'reloadscope.cluster': 'serve' });
  await new Promise((r) => held.on('message', (m) => m['reloadscope.cluster'] === 'serving' && r()));
  const after = await count(200);
  const maxConnections = await new Promise((r) => { held.once('message', (m) => r(m.maxConnections)); held.send('maxConnections?'); });
  console.log(JSON.stringify({ before, after, reports, maxConnections }));
  for (const w of Object.values(cluster.workers)) w.process.kill('SIGKILL');
} else {
  const server = http.createServer((req, res) => res.end(process.env.ROLE));
  server.listen(port, '127.0.0.1', () => { server.maxConnections = 50; });
  process.on('message', (m) => m === 'maxConnections?' && process.send({ maxConnections: server.maxConnections }));
}
`;

test('a held worker refuses every connection node:cluster hands it until serve; the app\'s own maxConnections survives the hold', { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t, 'rs-cluster-hold-');
  await writeFile(join(dir, 'primary.mjs'), PRIMARY);
  const { stdout } = await promisify(execFile)(process.execPath, [join(dir, 'primary.mjs')], {
    env: { ...process.env, PORT: String(await freePort()), BOOTSTRAP },
    timeout: 50_000,
  });
  const { before, after, reports, maxConnections } = JSON.parse(stdout.trim().split('\n').at(-1)!);
  assert.deepEqual(before, { serving: 200 }, 'while held, the other worker answered every request');
  assert.ok(after.held > 0 && after.serving > 0 && after.held + after.serving === 200, JSON.stringify(after));
  assert.ok(reports.includes('listening'), `the held worker reported its listener: ${reports}`);
  assert.equal(maxConnections, 50);
});
