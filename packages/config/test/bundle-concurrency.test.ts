// Bundle activations that overlap: in one process (each caller gets the result of its own
// request) and across processes (deployers racing, SIGKILLed or stopped while holding the lock).
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { activateBundle, activeBundleVersion, CURRENT, verifyBundle, writeRelease } from '../src/index.ts';
import { ACTIVATION_LOCK } from '../src/bundle-lock.ts';
import { eventually, sleep, telemetry, tempDir } from './harness.ts';

const files = (tag: string, pad = 0) => ({
  'config.yaml': `tag: ${tag}\n`,
  'rules/r.json': JSON.stringify({ tag }),
  // Bulk makes the verify stage (hashing) take a while, so overlapping activations really overlap.
  ...(pad > 0 ? { 'model.bin': randomBytes(pad) } : {}),
});

// ---------------------------------------------------------------- one process

test('concurrent activations of one root: every caller gets the result of its own release, in call order', async (t) => {
  const root = await tempDir(t, 'rs-bundle-');
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const activate = (version: string) => activateBundle({ root, version, keep: 10, instrumentation: tel.reloads, target: 'rules' });
  const versions = ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'];
  for (const v of versions) await writeRelease(root, v, files(v));
  assert.equal((await activate('r0-missing')).error?.code, 'bundle_invalid');

  const started = versions.map(activate);
  // The ones waiting for their turn are visible as pending requests of the target.
  assert.equal(await tel.metric('hotreload.pending', { 'hotreload.target': 'rules' }), 5);
  const results = await Promise.all(started);
  assert.equal(await tel.metric('hotreload.pending', { 'hotreload.target': 'rules' }), 0);
  for (const [i, r] of results.entries()) {
    assert.equal(r.outcome, 'success', `${versions[i]}: ${r.error?.code}`);
    assert.equal(r.version, versions[i], `the caller of ${versions[i]} was answered with ${r.version}`);
    assert.equal(r.coalesced, 0);
  }
  assert.deepEqual(results.map((r) => r.generation), [1, 2, 3, 4, 5, 6]);
  assert.equal(await activeBundleVersion(root), 'r6');
  assert.equal(await readFile(join(root, CURRENT, 'config.yaml'), 'utf8'), 'tag: r6\n');
  assert.equal(await tel.metric('hotreload.reloads', { 'hotreload.target': 'rules', 'hotreload.trigger': 'api', 'hotreload.outcome': 'success' }), 6);
});

test('concurrent activations with rollback protection: the older release is refused, never reported as success with another version', async (t) => {
  const root = await tempDir(t, 'rs-bundle-');
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const stateFile = join(await tempDir(t, 'rs-state-'), 'serial.json');
  const activate = (version: string) =>
    activateBundle({ root, version, keep: 10, instrumentation: tel.reloads, target: 'rules', verify: { publicKey, serial: { stateFile } } });
  for (const [v, serial] of [['r3', 3], ['r4', 4], ['r5', 5]] as const) await writeRelease(root, v, files(v), { serial, privateKey });

  // The sequence: r3 is running when r5 and then r4 are requested.
  const [r3, r5, r4] = await Promise.all([activate('r3'), activate('r5'), activate('r4')]);
  assert.deepEqual([r3.outcome, r3.version], ['success', 'r3']);
  assert.deepEqual([r5.outcome, r5.version], ['success', 'r5'], `activateBundle(r5) answered ${r5.outcome} ${r5.version}`);
  assert.equal(r4.outcome, 'failure');
  assert.equal(r4.error?.code, 'version_rollback');
  assert.equal(await activeBundleVersion(root), 'r5');
  assert.equal(JSON.parse(await readFile(stateFile, 'utf8')).serial, 5);
  await verifyBundle(root, 'r5', { verify: { publicKey, serial: { stateFile } } });
});

test('two bundle roots with the same base name (one default target) do not answer each other', async (t) => {
  const parent = await tempDir(t, 'rs-bundles-');
  const a = join(parent, 'a', 'bundle');
  const b = join(parent, 'b', 'bundle');
  const tel = telemetry();
  t.after(() => tel.shutdown());
  for (const v of ['a1', 'a2']) await writeRelease(a, v, files(v));
  await writeRelease(b, 'b1', files('b1'));
  // Same target `bundle`: core must not coalesce b1 into a2's run.
  const [ra1, rb1, ra2] = await Promise.all([
    activateBundle({ root: a, version: 'a1', instrumentation: tel.reloads }),
    activateBundle({ root: b, version: 'b1', instrumentation: tel.reloads }),
    activateBundle({ root: a, version: 'a2', instrumentation: tel.reloads }),
  ]);
  assert.deepEqual([ra1.outcome, ra1.version, rb1.outcome, rb1.version, ra2.outcome, ra2.version], ['success', 'a1', 'success', 'b1', 'success', 'a2']);
  assert.equal(await activeBundleVersion(a), 'a2');
  assert.equal(await activeBundleVersion(b), 'b1', 'b was really activated, not answered with a2');
});

// ---------------------------------------------------------------- several processes

const deployerScript = fileURLToPath(new URL('./fixtures/deployer-child.ts', import.meta.url));

interface Result {
  requested: string;
  outcome: string;
  version?: string;
  code?: string;
  pid: number;
}

/** A deployer child process, fed release names on stdin; each result comes back as a JSON line. */
class Deployer {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly exited: Promise<NodeJS.Signals | null>;
  #buffer = '';
  #waiting: Array<(line: string) => void> = [];
  #lines: string[] = [];
  stderr = '';

  constructor(t: TestContext, root: string, stateFile: string, publicKeyPem: string, timeoutMs: number) {
    this.proc = spawn(process.execPath, [deployerScript, root, stateFile], {
      env: { ...process.env, RELEASE_PUBLIC_KEY: publicKeyPem, ACTIVATE_TIMEOUT_MS: String(timeoutMs) },
    });
    t.after(() => this.proc.kill('SIGKILL'));
    this.exited = new Promise((resolve) => this.proc.once('exit', (_c, signal) => resolve(signal)));
    this.proc.stderr.on('data', (d) => {
      this.stderr += d;
    });
    this.proc.stdout.on('data', (d) => {
      this.#buffer += d;
      for (let i = this.#buffer.indexOf('\n'); i >= 0; i = this.#buffer.indexOf('\n')) {
        const line = this.#buffer.slice(0, i);
        this.#buffer = this.#buffer.slice(i + 1);
        const waiter = this.#waiting.shift();
        if (waiter) waiter(line);
        else this.#lines.push(line);
      }
    });
  }

  get pid(): number {
    return this.proc.pid!;
  }

  #next(): Promise<string> {
    const line = this.#lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    return new Promise((resolve, reject) => {
      this.#waiting.push(resolve);
      void this.exited.then((signal) => reject(new Error(`deployer ${this.pid} exited (${signal}): ${this.stderr}`)));
    });
  }

  async ready(): Promise<void> {
    assert.equal(await this.#next(), 'ready');
  }

  activate(version: string): Promise<Result> {
    this.proc.stdin.write(`${version}\n`);
    return this.#next().then((line) => JSON.parse(line) as Result);
  }
}

/** A signed bundle root, serials `serialOf`, and a watcher of `current` that records every serial it sees. */
async function deployment(t: TestContext) {
  const root = await tempDir(t, 'rs-bundle-');
  const stateFile = join(await tempDir(t, 'rs-state-'), 'serial.json');
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
  const verify = { publicKey, serial: { stateFile } };
  const serialOf = new Map<string, number>();
  const release = async (serial: number, pad = 256 * 1024) => {
    const version = `s${serial}`;
    await writeRelease(root, version, files(version, pad), { serial, privateKey });
    serialOf.set(version, serial);
    return version;
  };
  // What a reader of `current` sees over time: it must never go backwards.
  const seen: number[] = [];
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const link = await readlink(join(root, CURRENT)).catch(() => undefined);
      const serial = link === undefined ? undefined : serialOf.get(basename(link));
      if (serial !== undefined && serial !== seen.at(-1)) seen.push(serial);
      await sleep(1);
    }
  })();
  const stopWatching = async () => {
    watching = false;
    await watcher;
  };
  t.after(stopWatching);
  /** The bundle as an auditor sees it: current, the state file, and a full verification of current. */
  const audit = async () => {
    const active = await activeBundleVersion(root);
    assert.ok(active, 'current exists');
    const state = JSON.parse(await readFile(stateFile, 'utf8')) as { serial: number };
    await verifyBundle(root, active, { verify }); // throws version_rollback if current is below the floor
    return { active, serial: serialOf.get(active)!, state: state.serial };
  };
  const deployer = async (timeoutMs = 30_000) => {
    const d = new Deployer(t, root, stateFile, pem, timeoutMs);
    await d.ready();
    return d;
  };
  return { root, stateFile, verify, serialOf, release, seen, stopWatching, audit, deployer };
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}

function assertMonotonic(seen: number[]): void {
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `current went from serial ${seen[i - 1]} back to ${seen[i]} (seen: ${seen.join(' ')})`);
}

test('three deployer processes racing for many rounds: one winner per release, losers fail with version_rollback, current never goes below the floor', async (t) => {
  const d = await deployment(t);
  const first = await d.release(1);
  assert.equal((await activateBundle({ root: d.root, version: first, verify: d.verify })).outcome, 'success');
  const deployers = await Promise.all([d.deployer(), d.deployer(), d.deployer()]);
  let serial = 1;
  let refused = 0;
  for (let round = 0; round < 10; round++) {
    const versions = [await d.release(++serial), await d.release(++serial), await d.release(++serial)];
    const top = versions[2]!;
    const results = await Promise.all(shuffle([...versions]).map((v, i) => deployers[i]!.activate(v)));
    for (const r of results) {
      if (r.outcome === 'success') {
        assert.equal(r.version, r.requested, `${r.requested} answered with ${r.version}`);
      } else {
        assert.deepEqual([r.outcome, r.code], ['failure', 'version_rollback'], `${r.requested}: ${r.outcome} ${r.code}`);
        refused += 1;
      }
    }
    assert.equal(results.find((r) => r.requested === top)?.outcome, 'success', 'the newest release of the round always wins');
    const audit = await d.audit();
    assert.deepEqual([audit.active, audit.state], [top, d.serialOf.get(top)], `round ${round}: current and the state file agree on the newest release`);
  }
  await d.stopWatching();
  assertMonotonic(d.seen);
  assert.ok(d.seen.length >= 10, `current moved ${d.seen.length} times`);
  // Not a timing claim: with three releases racing per round, some of the older ones lose.
  t.diagnostic(`${refused} of 30 activations refused as rollbacks`);
});

/** The holder record of the activation lock, or undefined while nobody holds it. */
async function lockHolder(root: string): Promise<{ pid: number } | undefined> {
  const dir = join(root, ACTIVATION_LOCK);
  const names = await readdir(dir).catch(() => [] as string[]);
  const holder = names.find((n) => n.startsWith('holder-'));
  if (!holder) return undefined;
  return JSON.parse(await readFile(join(dir, holder), 'utf8').catch(() => '{}')) as { pid: number };
}

/** Wait until `pid` holds the activation lock, polling every millisecond (a hold lasts tens of ms). */
async function untilHolding(root: string, pid: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  while ((await lockHolder(root))?.pid !== pid) {
    if (Date.now() > deadline) throw new Error(`pid ${pid} never held the activation lock`);
    await sleep(1);
  }
}

test('a deployer SIGKILLed while it holds the activation lock, in many rounds: the others take over at once and current never goes back', async (t) => {
  const d = await deployment(t);
  const first = await d.release(1);
  assert.equal((await activateBundle({ root: d.root, version: first, verify: d.verify })).outcome, 'success');
  // A short deadline: a lock that is never freed shows up as bundle_locked, not as a slow test.
  let deployers: Deployer[] = await Promise.all([d.deployer(10_000), d.deployer(10_000), d.deployer(10_000)]);
  let serial = 1;
  let killedHolding = 0;
  let highest = 1;
  const rounds = 6;
  for (let round = 0; round < rounds; round++) {
    // The victim's release is big enough that it is still verifying (holding the lock) when killed.
    const victimIndex = Math.floor(Math.random() * 3);
    const versions: string[] = [];
    for (let i = 0; i < 3; i++) versions.push(await d.release(++serial, i === victimIndex ? 24 << 20 : undefined));
    const victimVersion = versions[victimIndex]!;
    const [victim, ...others] = shuffle([...deployers]);
    void victim!.activate(victimVersion).catch(() => {});
    await untilHolding(d.root, victim!.pid);
    const pending = versions.filter((v) => v !== victimVersion).map((v, i) => others[i]!.activate(v));
    await sleep(Math.floor(Math.random() * 20));
    victim!.proc.kill('SIGKILL');
    assert.equal(await victim!.exited, 'SIGKILL');
    if ((await lockHolder(d.root))?.pid === victim!.pid) killedHolding += 1;
    for (const r of await Promise.all(pending)) {
      if (r.outcome === 'success') {
        assert.equal(r.version, r.requested);
        highest = Math.max(highest, d.serialOf.get(r.requested)!);
      } else {
        // Never bundle_locked: the dead holder's lock is broken, not waited out.
        assert.deepEqual([r.outcome, r.code], ['failure', 'version_rollback'], `${r.requested}: ${r.outcome} ${r.code}`);
      }
    }
    const audit = await d.audit();
    assert.ok(audit.serial >= highest, `round ${round}: current is at serial ${audit.serial}, below the accepted ${highest}`);
    assert.ok(audit.state <= audit.serial, 'the state file never names a release newer than current');
    highest = audit.serial;
    deployers = [...others, await d.deployer(10_000)];
  }
  // The lock is free: a fresh deploy of a newer release goes through.
  const last = await d.release(++serial);
  const final = await deployers[0]!.activate(last);
  assert.deepEqual([final.outcome, final.version], ['success', last]);
  assert.equal((await d.audit()).state, serial);
  await d.stopWatching();
  assertMonotonic(d.seen);
  assert.ok(killedHolding >= rounds / 2, `only ${killedHolding} of ${rounds} kills hit a deployer while it held the lock`);
});

test('a live holder keeps the lock: a deployer stopped with SIGSTOP makes the next activation fail with bundle_locked at its deadline, then completes', async (t) => {
  const d = await deployment(t);
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const first = await d.release(1);
  assert.equal((await activateBundle({ root: d.root, version: first, verify: d.verify })).outcome, 'success');
  const holder = await d.deployer();
  const slow = await d.release(3, 64 << 20);
  const next = await d.release(2);
  const held = holder.activate(slow);
  await untilHolding(d.root, holder.pid);
  holder.proc.kill('SIGSTOP');
  t.after(() => holder.proc.kill('SIGCONT'));
  await sleep(20);
  // The holder may have been stopped before or after its own switch; stopped, it changes nothing.
  const before = await activeBundleVersion(d.root);
  const r = await activateBundle({ root: d.root, version: next, verify: d.verify, timeoutMs: 1500, instrumentation: tel.reloads, target: 'rules' });
  assert.equal(r.outcome, 'failure');
  assert.equal(r.error?.code, 'bundle_locked');
  assert.match(r.error?.message ?? '', new RegExp(`pid ${holder.pid}`));
  assert.equal(await activeBundleVersion(d.root), before, 'nothing switched');
  assert.equal(await tel.metric('hotreload.reloads', { 'hotreload.target': 'rules', 'hotreload.trigger': 'api', 'hotreload.outcome': 'failure' }), 1);
  const span = (await tel.spans()).find((s) => s.name === 'hotreload');
  assert.equal(span?.attributes['error.type'], 'bundle_locked');
  holder.proc.kill('SIGCONT');
  assert.deepEqual([(await held).outcome, (await held).version], ['success', slow]);
  assert.equal((await d.audit()).active, slow);
});

test('stale lock records are broken: a holder that is gone, a pid reused by another process, a holder from an earlier boot, an empty or malformed record', async (t) => {
  const root = await tempDir(t, 'rs-bundle-');
  await writeRelease(root, 'v1', files('v1'));
  const lock = join(root, ACTIVATION_LOCK);
  const sleeper = spawn('sleep', ['60']);
  t.after(() => sleeper.kill('SIGKILL'));
  const gone = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => gone.once('exit', r));
  // What this host's own holders record, so only the named property makes each record stale.
  const boot = await readFile('/proc/sys/kernel/random/boot_id', 'utf8').then((s) => s.trim(), () => undefined);
  const pidns = await readlink('/proc/self/ns/pid').catch(() => undefined);
  const base = { host: hostname(), boot, pidns };
  const records: Array<[string, string]> = [
    ['a holder that exited', JSON.stringify({ ...base, pid: gone.pid, start: '1', token: 'a'.repeat(24) })],
    ['a pid now used by another process', JSON.stringify({ ...base, pid: sleeper.pid, start: '1', token: 'b'.repeat(24) })],
    ['a holder from an earlier boot', JSON.stringify({ ...base, pid: process.pid, boot: 'an-earlier-boot', token: 'c'.repeat(24) })],
    ['an empty record', ''],
    ['a malformed record', '{"pid": "many"'],
  ];
  for (const [what, record] of records) {
    await rm(lock, { recursive: true, force: true });
    await mkdir(lock);
    await writeFile(join(lock, `holder-${'d'.repeat(24)}`), record);
    const r = await activateBundle({ root, version: 'v1', timeoutMs: 5000, target: `stale-${records.findIndex(([w]) => w === what)}` });
    assert.equal(r.outcome, 'success', `${what}: ${r.error?.code} ${r.error?.message}`);
    assert.deepEqual(await readdir(root).then((n) => n.filter((x) => x.startsWith(ACTIVATION_LOCK))), [], `${what}: the lock is gone afterwards`);
  }
  // An empty lock directory (a release interrupted between its two steps) is no lock at all.
  await mkdir(lock);
  assert.equal((await activateBundle({ root, version: 'v1', timeoutMs: 5000, target: 'stale-empty' })).outcome, 'success');
});

test('a lock path taken by something that is not a lock is never removed (bundle_locked at the deadline); a missing root is not_found', async (t) => {
  const root = await tempDir(t, 'rs-bundle-');
  await writeRelease(root, 'v1', files('v1'));
  const lock = join(root, ACTIVATION_LOCK);
  // A symlink to a directory elsewhere, holding what looks like a dead holder's record.
  const elsewhere = await tempDir(t, 'rs-elsewhere-');
  const decoy = join(elsewhere, `holder-${'e'.repeat(24)}`);
  await writeFile(decoy, JSON.stringify({ pid: 2 ** 30, host: hostname(), token: 'e'.repeat(24) }));
  for (const [what, make] of [
    ['a regular file', () => writeFile(lock, 'not a lock')],
    ['a symlink to a directory elsewhere', () => symlink(elsewhere, lock)],
    ['a directory of something else', () => mkdir(lock).then(() => writeFile(join(lock, 'notes.txt'), 'mine'))],
  ] as const) {
    await rm(lock, { recursive: true, force: true });
    await make();
    const r = await activateBundle({ root, version: 'v1', timeoutMs: 1500, target: 'occupied' });
    assert.deepEqual([r.outcome, r.error?.code], ['failure', 'bundle_locked'], what);
    assert.match(r.error?.message ?? '', /something that is not a lock occupied its lock \.activation\.lock until the deadline/);
    assert.equal(await activeBundleVersion(root), undefined, `${what}: nothing switched`);
  }
  assert.equal(await readFile(join(lock, 'notes.txt'), 'utf8'), 'mine', 'left alone');
  assert.ok(await readFile(decoy, 'utf8'), 'nothing behind the symlink was removed');
  assert.deepEqual(await readdir(root).then((n) => n.filter((x) => x.startsWith(`${ACTIVATION_LOCK}.`))), [], 'no staging directory left behind');
  const missing = await activateBundle({ root: join(root, 'no-such-root'), version: 'v1', target: 'missing' });
  assert.deepEqual([missing.outcome, missing.error?.code, missing.error?.message], ['failure', 'not_found', 'the bundle root does not exist']);
});

// ---------------------------------------------------------------- the serial state file

const writerScript = fileURLToPath(new URL('./fixtures/serial-writer-child.ts', import.meta.url));

test('replicas raising one serial state file at once never lower it: it ends at the highest serial any of them wrote', async (t) => {
  const stateFile = join(await tempDir(t, 'rs-state-'), 'serial.json');
  const writers = Array.from({ length: 4 }, () => {
    const proc = spawn(process.execPath, [writerScript, stateFile, '60']);
    t.after(() => proc.kill('SIGKILL'));
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => {
      out += d;
    });
    proc.stderr.on('data', (d) => {
      err += d;
    });
    const done = new Promise<number>((resolve, reject) =>
      proc.once('exit', (code) => (code === 0 ? resolve(Number(out.split('\n')[1])) : reject(new Error(`writer exited ${code}: ${err}`)))),
    );
    return { proc, done, ready: () => out.startsWith('ready\n'), errors: () => err };
  });
  await eventually(() => writers.every((w) => w.ready()), 'the writers to start');
  for (const w of writers) w.proc.stdin.write('go\n');
  // Sampled over time: the floor must only ever rise.
  const seen: number[] = [];
  let running = true;
  const all = Promise.all(writers.map((w) => w.done)).finally(() => {
    running = false;
  });
  while (running) {
    const state = await readFile(stateFile, 'utf8').then((s) => JSON.parse(s) as { serial: number }, () => undefined);
    if (state && state.serial !== seen.at(-1)) seen.push(state.serial);
    await sleep(1);
  }
  const highest = Math.max(...(await all));
  assert.deepEqual(writers.map((w) => w.errors()), ['', '', '', '']);
  assertMonotonic(seen);
  assert.equal(JSON.parse(await readFile(stateFile, 'utf8')).serial, highest);
});
