/**
 * The signal table of the cluster README, through `reloadscope-cluster` under load: what each
 * signal a supervisor can receive does, to the supervisor alone and to its whole process group
 * (what a terminal sends on hang-up, Ctrl-C, Ctrl-Z or Ctrl-\, and what systemd's default
 * KillMode sends on stop).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { alive, children, installClusterPackage, scrape, series, startCli } from './cli-harness.ts';
import { activate, eventually, get, load, type Sample, sleep, tempDir, writeApp } from './harness.ts';

/** A plain server that counts the SIGHUPs its own listener got, logs on /log, and answers /slow late. */
const app = (name: string, prelude = '') => `import http from 'node:http';
${prelude}
let hups = 0;
process.on('SIGHUP', () => { hups += 1; });
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/hups') return void res.end(process.pid + ' ' + hups);
  if (url.pathname === '/log') { console.log('request logged by ' + process.pid); return void res.end('logged'); }
  if (url.pathname === '/slow') return void setTimeout(() => res.end('${name} slow'), Number(url.searchParams.get('ms')));
  res.end('${name}');
});
server.listen(Number(process.env.PORT), '127.0.0.1');
`;

/** Ready only 3 s after listening: an upgrade to it stays in verify long enough to be interrupted. */
const slowStart = (name: string) => app(name, "import { deferReady, ready } from '@reloadscope/cluster/worker';\ndeferReady();\nsetTimeout(ready, 3000);");

async function releases(t: Parameters<typeof tempDir>[0], names: Record<string, string>): Promise<string> {
  const root = await tempDir(t, 'rs-cluster-signals-');
  await installClusterPackage(root);
  for (const [name, source] of Object.entries(names)) await writeApp(root, name, source);
  await activate(root, Object.keys(names)[0]!);
  return root;
}

/** The process state letter from /proc (T: stopped). */
const state = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];

const failures = (samples: Sample[], bodies: string[]) => samples.filter((s) => s.error !== undefined || s.status !== 200 || !bodies.includes(s.body!));

test('SIGHUP (to the supervisor, and to its whole group as a closing terminal sends it), SIGUSR1, SIGPIPE, SIGWINCH, SIGCONT, SIGTSTP and a closed stdout end nothing and stop nothing', { timeout: 120_000 }, async (t) => {
  const root = await releases(t, { a: app('a'), b: app('b') });
  const cli = await startCli(t, root, { group: true });
  const pid = cli.child.pid!;
  const workers = await children(pid);
  const traffic = load(cli.port, 3);
  const fresh = load(cli.port, 1, 120_000, { keepAlive: false });
  t.after(() => Promise.all([traffic.stop(), fresh.stop()]));
  const hupsByWorker = async () => {
    const seen = new Map<number, number>();
    for (let i = 0; i < 20 && seen.size < workers.length; i++) {
      const [p, n] = ((await get(cli.port, '/hups')).body ?? '').split(' ').map(Number);
      seen.set(p!, n!);
    }
    return seen;
  };

  // SIGHUP to the supervisor is passed on to every current worker: the app's own listener sees it.
  let from = cli.lines.length;
  cli.child.kill('SIGHUP');
  await cli.waitFor(/^reloadscope-cluster: SIGHUP passed on to 2 workers/, from);
  await eventually(async () => [...(await hupsByWorker()).values()].every((n) => n === 1) && (await hupsByWorker()).size === 2, 'both workers\' own SIGHUP listener called once');
  // A hang-up of the terminal reaches the supervisor and every worker at once.
  process.kill(-pid, 'SIGHUP');
  await eventually(async () => [...(await hupsByWorker()).values()].every((n) => n === 3), 'both workers saw the direct and the passed-on SIGHUP');

  from = cli.lines.length;
  cli.child.kill('SIGUSR1');
  await cli.waitFor(/^reloadscope-cluster: SIGUSR1 ignored/, from);
  for (const sig of ['SIGPIPE', 'SIGWINCH', 'SIGCONT'] as const) cli.child.kill(sig);
  process.kill(-pid, 'SIGTSTP');
  await sleep(500);
  for (const p of [pid, ...workers]) assert.notEqual(state(p), 'T', `process ${p} was stopped`);
  assert.equal((await get(cli.port, '/')).body, 'a');
  assert.ok(!cli.lines.some((l) => /Debugger listening/.test(l)), 'SIGUSR1 opened no inspector');

  // Nobody reads the output any more (the terminal or the pipe went away): log lines are dropped, nothing dies.
  cli.child.stdout!.destroy();
  for (let i = 0; i < 10; i++) assert.equal((await get(cli.port, '/log')).body, 'logged');
  await activate(root, 'b');
  cli.child.kill('SIGUSR2');
  await eventually(async () => series(await scrape(cli.metricsPort), 'hotreload_reloads_total', { hotreload_target: 'app-code', hotreload_trigger: 'signal', hotreload_outcome: 'success' }) === 1, 'the upgrade with a closed stdout', 30_000);
  for (let i = 0; i < 10; i++) assert.equal((await get(cli.port, '/log')).body, 'logged');
  await sleep(300);
  await Promise.all([traffic.stop(), fresh.stop()]);
  assert.ok(alive(pid), 'the supervisor is alive');
  assert.equal((await children(pid)).length, 2);
  assert.deepEqual(workers.filter(alive), [], 'the old generation was drained after the upgrade');
  for (const [name, samples] of [['keep-alive', traffic.samples], ['new connections', fresh.samples]] as const) {
    const bad = failures(samples, ['a', 'b']);
    assert.deepEqual(bad.slice(0, 5), [], `${name}: ${bad.length} of ${samples.length} failed`);
  }
});

test('SIGKILL of an old worker mid-drain: the upgrade still succeeds and nothing is replaced; SIGKILL of a new worker mid-verify refuses the upgrade', { timeout: 120_000 }, async (t) => {
  const root = await releases(t, { a: app('a'), b: app('b'), c: slowStart('c') });
  const cli = await startCli(t, root, { http: true, args: ['--drain-timeout', '20000'] });
  const pid = cli.child.pid!;
  const old = await children(pid);
  const traffic = load(cli.port, 3);
  t.after(() => traffic.stop());
  const slow = get(cli.port, '/slow?ms=15000');
  await sleep(300);

  await activate(root, 'b');
  const upgrade = cli.upgrade();
  // The switch happened once new connections reach b; one old worker still drains the slow request.
  await eventually(async () => (await get(cli.port, '/')).body === 'b' && old.filter(alive).length === 1, 'the old generation draining the slow request', 30_000);
  const [draining] = old.filter(alive);
  process.kill(draining!, 'SIGKILL');
  const result = await upgrade;
  assert.equal(result.outcome, 'success', JSON.stringify(result));
  assert.ok((await slow).error !== undefined, 'the request in flight on the killed worker is lost with it');
  const current = await children(pid);
  assert.equal(current.length, 2);
  assert.ok(current.every((p) => !old.includes(p)));

  await activate(root, 'c');
  const refused = cli.upgrade();
  await eventually(async () => (await children(pid)).length === 4, 'the new generation started', 30_000);
  const [victim] = (await children(pid)).filter((p) => !current.includes(p));
  process.kill(victim!, 'SIGKILL');
  const r = await refused;
  assert.equal(r.outcome, 'failure');
  assert.equal(r.error?.code, 'worker_exited');
  assert.equal(r.version, 'b');
  assert.deepEqual(await children(pid), current);

  await sleep(300);
  await traffic.stop();
  const bad = failures(traffic.samples, ['a', 'b']);
  assert.deepEqual(bad.slice(0, 5), [], `${bad.length} of ${traffic.samples.length} failed`);
  const text = await scrape(cli.metricsPort);
  assert.equal(series(text, 'hotreload_cluster_worker_restarts_total', { hotreload_target: 'app-code' }), 0, 'a killed draining worker is not replaced');
  assert.equal(series(text, 'hotreload_cluster_forced_kills_total', { hotreload_target: 'app-code' }), 0);
});

for (const [name, sig, toGroup] of [
  ['SIGTERM to the supervisor', 'SIGTERM', false],
  ['SIGINT to its process group (Ctrl-C in a terminal)', 'SIGINT', true],
  ['SIGTERM to its process group (systemd\'s stop)', 'SIGTERM', true],
  ['SIGQUIT to the supervisor', 'SIGQUIT', false],
] as const) {
  test(`${name} mid-upgrade under load: the upgrade ends "closed", the request in flight is answered, every worker is drained and the supervisor exits 0`, { timeout: 90_000 }, async (t) => {
    const root = await releases(t, { a: app('a'), c: slowStart('c') });
    const cli = await startCli(t, root, { group: true });
    const pid = cli.child.pid!;
    const old = await children(pid);
    const traffic = load(cli.port, 3);
    t.after(() => traffic.stop());
    await sleep(300);
    await activate(root, 'c');
    cli.child.kill('SIGUSR2');
    await eventually(async () => (await children(pid)).length === 4, 'the new generation started', 30_000);
    const everyone = await children(pid);
    const slow = get(cli.port, '/slow?ms=1500');
    await sleep(200);
    const stopAt = performance.now();
    if (toGroup) process.kill(-pid, sig);
    else cli.child.kill(sig);
    // A second stop signal during the drain changes nothing.
    await sleep(100);
    cli.child.kill('SIGTERM');
    assert.deepEqual(await cli.exited, { code: 0, signal: null }, cli.lines.join('\n'));
    assert.deepEqual((await slow).body, 'a slow', 'the request in flight when the signal came was answered');
    await traffic.stop();
    assert.ok(cli.lines.some((l) => /^reload app-code: failure \(signal\) .*closed: /.test(l)), cli.lines.join('\n'));
    assert.deepEqual(everyone.filter(alive), [], 'no worker outlives the supervisor');
    // Before the signal nothing failed. After it, a new connection may find no worker (refused, or
    // reset by the primary before any worker saw it: the service is stopping), but no request on an
    // established connection is cut: each gets its answer with `Connection: close`.
    const before = failures(traffic.samples.filter((s) => s.started < stopAt), ['a']);
    assert.deepEqual(before.slice(0, 5), []);
    const cut = traffic.samples.filter((s) => s.error !== undefined && (s.reused || !['ECONNREFUSED', 'ECONNRESET'].includes(s.error)));
    assert.deepEqual(cut.slice(0, 5), [], 'no request on an established connection was cut');
    assert.ok(old.length === 2);
  });
}
