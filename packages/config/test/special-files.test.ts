import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { sha256Hex } from '@reloadscope/core';
import { ConfigError, verifyBundle, watchConfig, writeRelease } from '../src/index.ts';
import { tempDir } from './harness.ts';
import { FOUND, makeSpecial, SPECIAL_KINDS } from './special-files.ts';

const GOOD = '{"name":"svc","port":8080}';
const { publicKey, privateKey } = generateKeyPairSync('ed25519');
// Old code read side files with fs.readFile: a FIFO hung the run until this deadline, /dev/zero
// was read without limit. The refusal must come long before it.
const TIMEOUT_MS = 3000;
const PROMPT_MS = 1000;

// A regression that reads /dev/zero does so at GiB/s (old code took 19 GiB in 20 s, the deadline
// ends the run, not the read): stop this file before it takes the machine down.
setInterval(() => {
  if (process.memoryUsage.rss() < 1024 ** 3) return;
  process.stderr.write('special-files.test: RSS passed 1 GiB, a special file is being read without limit\n');
  process.exit(1);
}, 50).unref();

interface Position {
  name: string;
  stage: 'load' | 'verify';
  special: (file: string) => string;
  verify: (file: string) => object;
}

const POSITIONS: Position[] = [
  { name: 'config file', stage: 'load', special: (f) => f, verify: () => ({}) },
  { name: 'sha256 file', stage: 'verify', special: (f) => `${f}.sha256`, verify: (f) => ({ sha256File: `${f}.sha256` }) },
  { name: 'signature file', stage: 'verify', special: (f) => `${f}.sig`, verify: (f) => ({ publicKey, signatureFile: `${f}.sig` }) },
];

async function goodWatcher(t: TestContext, p: Position) {
  const dir = await tempDir(t);
  const file = join(dir, 'config.json');
  await writeFile(file, GOOD);
  await writeFile(`${file}.sha256`, sha256Hex(GOOD));
  await writeFile(`${file}.sig`, sign(null, Buffer.from(GOOD), privateKey));
  const config = await watchConfig({ path: file, watch: false, signal: false, timeoutMs: TIMEOUT_MS, verify: p.verify(file) });
  t.after(() => config.close());
  return { file, config };
}

for (const p of POSITIONS) {
  for (const kind of SPECIAL_KINDS) {
    test(`${kind} at the ${p.name} path: refused promptly (read_error), the active config keeps serving`, { timeout: 30_000 }, async (t) => {
      const { file, config } = await goodWatcher(t, p);
      const before = { value: config.current, hash: config.hash };
      const special = await makeSpecial(p.special(file), kind);
      t.after(() => special.remove());
      const started = performance.now();
      // force: the config bytes may be unchanged, and an unchanged version skips verify.
      const result = await config.reload({ force: true });
      const ms = performance.now() - started;
      await special.remove();
      assert.equal(result.outcome, 'failure', 'refused, not timed out');
      assert.equal(result.error?.code, 'read_error');
      assert.equal(result.error?.stage, p.stage);
      const cause = result.error?.cause;
      assert.ok(cause instanceof ConfigError);
      assert.match(cause.message, FOUND[kind]);
      assert.ok(ms < PROMPT_MS, `refused in ${ms.toFixed(0)} ms`);
      assert.deepEqual(config.current, before.value);
      assert.equal(config.hash, before.hash);
      // The good file is taken again: nothing was left half-open or parked.
      await writeFile(p.special(file), p.stage === 'load' ? GOOD : p.name === 'sha256 file' ? sha256Hex(GOOD) : sign(null, Buffer.from(GOOD), privateKey));
      assert.equal((await config.reload({ force: true })).outcome, 'success', 'recovers');
    });
  }
}

test('a special file as a bundle manifest (read_error) or as a bundle file (bundle_invalid) is refused promptly', { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t);
  for (const kind of SPECIAL_KINDS) {
    for (const where of ['manifest.json', 'app.json'] as const) {
      const version = `v-${kind}-${where.replace('.', '-')}`;
      const dir = await writeRelease(root, version, { 'app.json': GOOD });
      const special = await makeSpecial(join(dir, where), kind);
      t.after(() => special.remove());
      const started = performance.now();
      await assert.rejects(verifyBundle(root, version), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `${where} ${kind}: ${String(err)}`);
        if (where === 'app.json') {
          // The release walk refuses a listed special file (or a symlink out to a device) by lstat, before anything opens it.
          assert.equal(err.code, 'bundle_invalid', `${where} ${kind}`);
          assert.match(err.message, /not a regular file|resolves outside the release/, `${where} ${kind}`);
        } else {
          assert.equal(err.code, 'read_error', `${where} ${kind}`);
          assert.match(err.message, FOUND[kind], `${where} ${kind}`);
        }
        return true;
      });
      assert.ok(performance.now() - started < PROMPT_MS, `${where} ${kind}: refused at once`);
      await special.remove();
    }
  }
});
