import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync, sign, randomBytes } from 'node:crypto';
import { chown, writeFile, unlink, chmod, open } from 'node:fs/promises';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SpanStatusCode } from '@opentelemetry/api';
import { hashToGauge, sha256Hex } from '@reloadscope/core';
import { z } from 'zod';
import { type WatchConfigOptions, watchConfig } from '../src/index.ts';
import { eventually, sleep, telemetry, tempDir } from './harness.ts';

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

const schema = z.object({ name: z.string(), port: z.number().int().positive() });
const GOOD = { name: 'svc', port: 8080 };
const GOOD_JSON = JSON.stringify(GOOD);
const { publicKey, privateKey } = generateKeyPairSync('ed25519');

interface Case {
  name: string;
  code: string;
  file?: string;
  options?: (dir: string, file: string) => Partial<WatchConfigOptions<unknown>>;
  /** Sidecars for the good version. */
  prepare?: (dir: string, file: string) => Promise<void>;
  breakIt: (dir: string, file: string) => Promise<void>;
}

const signedOptions = (file: string) => ({ verify: { publicKey, signatureFile: `${file}.sig` } });
const signFile = (file: string, bytes: string) => writeFile(`${file}.sig`, sign(null, Buffer.from(bytes), privateKey));

const CASES: Case[] = [
  { name: 'invalid JSON', code: 'parse_error', breakIt: (_d, f) => writeFile(f, '{"name": "svc", "port": ') },
  {
    name: 'invalid YAML',
    code: 'parse_error',
    file: 'config.yaml',
    breakIt: (_d, f) => writeFile(f, 'name: [svc\nport: 8080\n  bad: indent: here\n'),
  },
  { name: 'schema violation', code: 'schema_violation', breakIt: (_d, f) => writeFile(f, '{"name":"svc","port":"eighty"}') },
  { name: 'empty file', code: 'empty', breakIt: (_d, f) => writeFile(f, '') },
  { name: 'file deleted', code: 'not_found', breakIt: (_d, f) => unlink(f) },
  {
    name: 'oversized',
    code: 'too_large',
    options: () => ({ maxBytes: 256 }),
    breakIt: (_d, f) => writeFile(f, JSON.stringify({ ...GOOD, pad: 'x'.repeat(1000) })),
  },
  {
    name: 'binary garbage',
    code: 'parse_error',
    // 0xff never occurs in UTF-8, so this can never decode, whatever the random rest is.
    breakIt: (_d, f) => writeFile(f, Buffer.concat([Buffer.from([0xff, 0xfe, 0x00]), randomBytes(512)])),
  },
  {
    name: 'checksum mismatch',
    code: 'checksum_mismatch',
    options: (_d, f) => ({ verify: { sha256File: `${f}.sha256` } }),
    prepare: (_d, f) => writeFile(`${f}.sha256`, `${sha256Hex(GOOD_JSON)}  config.json\n`),
    breakIt: (_d, f) => writeFile(f, JSON.stringify({ ...GOOD, port: 9090 })),
  },
  {
    name: 'missing signature',
    code: 'missing_signature',
    options: (_d, f) => signedOptions(f),
    prepare: (_d, f) => signFile(f, GOOD_JSON),
    breakIt: async (_d, f) => {
      await writeFile(f, JSON.stringify({ ...GOOD, port: 9090 }));
      await unlink(`${f}.sig`);
    },
  },
  {
    name: 'bad signature',
    code: 'bad_signature',
    options: (_d, f) => signedOptions(f),
    prepare: (_d, f) => signFile(f, GOOD_JSON),
    // A valid config whose signature belongs to other bytes.
    breakIt: (_d, f) => writeFile(f, JSON.stringify({ ...GOOD, port: 9090 })),
  },
];

async function startGood(t: TestContext, c: Pick<Case, 'file' | 'options' | 'prepare'>, extra: Partial<WatchConfigOptions<unknown>> = {}) {
  const dir = await tempDir(t);
  const file = join(dir, c.file ?? 'config.json');
  await writeFile(file, file.endsWith('.yaml') ? 'name: svc\nport: 8080\n' : GOOD_JSON);
  await c.prepare?.(dir, file);
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const config = await watchConfig({ path: file, schema, instrumentation: tel.reloads, watch: false, signal: false, ...c.options?.(dir, file), ...extra });
  t.after(() => config.close());
  assert.deepEqual(config.current, GOOD);
  return { dir, file, tel, config };
}

async function assertRejected(tel: ReturnType<typeof telemetry>, target: string, trigger: string, code: string, failures = 1) {
  assert.equal(
    await tel.metric('hotreload.reloads', { 'hotreload.target': target, 'hotreload.trigger': trigger, 'hotreload.outcome': 'failure' }),
    failures,
    'failure counted',
  );
  const spans = await tel.spans();
  const root = spans.filter((s) => s.name === 'hotreload' && s.attributes['hotreload.trigger'] === trigger).at(-1);
  assert.ok(root, 'root span exported');
  assert.equal(root.attributes['error.type'], code);
  assert.equal(root.attributes['hotreload.outcome'], 'failure');
  assert.equal(root.status.code, SpanStatusCode.ERROR);
  const failedStage = spans.find((s) => s.parentSpanContext?.spanId === root.spanContext().spanId && s.status.code === SpanStatusCode.ERROR);
  assert.ok(failedStage, 'the failing stage span has status ERROR');
  assert.equal(failedStage.attributes['error.type'], code);
}

for (const c of CASES) {
  test(`bad input keeps the active config: ${c.name} -> ${c.code}`, async (t) => {
    const { dir, file, tel, config } = await startGood(t, c);
    const hashBefore = config.hash;
    await c.breakIt(dir, file);
    const result = await config.reload({ trigger: 'api' });
    assert.equal(result.outcome, 'failure');
    assert.equal(result.error?.code, c.code);
    assert.deepEqual(config.current, GOOD);
    assert.equal(config.hash, hashBefore);
    assert.equal(result.hash, hashBefore, 'result reports the still-active hash');
    await assertRejected(tel, config.target, 'api', c.code);
  });
}

test('truncated file written in two chunks: the half is rejected, the whole is taken', async (t) => {
  const { file, tel, config } = await startGood(t, {}, { watch: { debounceMs: 50 } });
  const next = JSON.stringify({ name: 'svc2', port: 9090 });
  const handle = await open(file, 'w');
  await handle.write(next.slice(0, 12));
  await handle.sync();
  // The watcher sees the half-written file (maybe the truncated empty one first) and rejects it.
  const rejected = await eventually(
    async () => (await tel.spans()).find((s) => s.name === 'hotreload' && s.attributes['hotreload.trigger'] === 'file' && s.attributes['error.type'] === 'parse_error'),
    'the half-written file to be rejected',
  );
  assert.equal(rejected.status.code, SpanStatusCode.ERROR);
  assert.deepEqual(config.current, GOOD);
  const failures = await tel.metric('hotreload.reloads', { 'hotreload.target': config.target, 'hotreload.trigger': 'file', 'hotreload.outcome': 'failure' });
  assert.ok(failures !== undefined && failures >= 1, 'failure counted');
  await handle.write(next.slice(12));
  await handle.close();
  await eventually(() => (config.current as { name: string }).name === 'svc2', 'the completed file to be active');
  assert.deepEqual(config.current, { name: 'svc2', port: 9090 });
});

test('permission denied (as an unprivileged child process, since root bypasses permissions)', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'config.json');
  await writeFile(file, GOOD_JSON);
  const nobody = 65534;
  await chown(dir, nobody, nobody);
  await chown(file, nobody, nobody);
  await chmod(dir, 0o755);
  const child = fileURLToPath(new URL('./fixtures/permission-child.ts', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [child, file, String(nobody), String(nobody)], { timeout: 30_000 });
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!);
  assert.equal(out.uid, nobody, 'the check ran without root privileges');
  assert.equal(out.outcome, 'failure');
  assert.equal(out.code, 'permission_denied');
  assert.equal(out.stage, 'load');
  assert.equal(out.currentUnchanged, true);
  assert.equal(out.failures, 1);
  assert.equal(out.spanErrorType, 'permission_denied');
  assert.equal(out.spanStatusError, true);
});

test('a good version after bad ones is taken, and counted as success', async (t) => {
  const { file, tel, config } = await startGood(t, {});
  await writeFile(file, '{');
  assert.equal((await config.reload()).outcome, 'failure');
  await writeFile(file, JSON.stringify({ name: 'svc', port: 1 }));
  const ok = await config.reload();
  assert.equal(ok.outcome, 'success');
  assert.deepEqual(config.current, { name: 'svc', port: 1 });
  assert.equal(ok.hash, config.hash);
  assert.equal(await tel.metric('hotreload.reloads', { 'hotreload.target': config.target, 'hotreload.trigger': 'api', 'hotreload.outcome': 'success' }), 1);
  assert.equal(await tel.metric('hotreload.consecutive_failures', { 'hotreload.target': config.target }), 0);
});

test('a file that does not parse is still recorded as the newest candidate, with parse_error', async (t) => {
  const { file, tel, config } = await startGood(t, {});
  const active = config.hash;
  const broken = '{"name": "svc", "port": ';
  await writeFile(file, broken);
  const refused = await config.reload();
  assert.equal(refused.error?.code, 'parse_error');
  assert.equal(refused.error?.stage, 'load');
  assert.equal(refused.candidateHash, sha256Hex(broken));
  assert.equal(await tel.metric('hotreload.config.hash', { 'hotreload.target': config.target }), hashToGauge(active));
  assert.equal(await tel.metric('hotreload.candidate.hash', { 'hotreload.target': config.target }), hashToGauge(sha256Hex(broken)));
  assert.equal(
    await tel.metric('hotreload.candidate.info', { 'hotreload.target': config.target, 'hotreload.config.hash': sha256Hex(broken), 'error.type': 'parse_error' }),
    1,
  );
  // A file that cannot even be read names no candidate: the last one stands.
  await unlink(file);
  assert.equal((await config.reload()).error?.code, 'not_found');
  assert.equal(await tel.metric('hotreload.candidate.hash', { 'hotreload.target': config.target }), hashToGauge(sha256Hex(broken)));
});

test('no unhandled rejections during the bad-input matrix', async () => {
  await sleep(50);
  assert.deepEqual(unhandled, []);
});
