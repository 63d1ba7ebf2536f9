/**
 * config-service behaviour that depends on reloaded values: the rate limit and the feature flag
 * apply to the next request after a reload, and the HTTP trigger is token-protected.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { eventually, start } from './child.ts';

const example = resolve(import.meta.dirname, '../../examples/config-service');

test('config-service: a reloaded rate limit and feature flag apply at once; HTTP trigger needs the token', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'reloadscope-config-service-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const configPath = join(dir, 'config.yaml');
  await copyFile(join(example, 'config.yaml'), configPath);
  const original = await readFile(configPath, 'utf8');
  const withLimit = (perMinute: number, shout: boolean) =>
    original.replace(/^(\s+requestsPerMinute:).*$/m, `$1 ${perMinute}`).replace(/^(\s+shout:).*$/m, `$1 ${shout}`);
  await writeFile(configPath, withLimit(2, false));

  const token = 'example-token-0123456789';
  const service = start(t, 'npm', ['start'], {
    cwd: example,
    env: { CONFIG_PATH: configPath, PORT: '0', OTEL_EXPORTER_PROMETHEUS_PORT: '0', OTEL_TRACES_EXPORTER: 'none', RELOAD_TOKEN: token },
  });
  const url = (await service.waitFor(/config-service listening on (http:\S+)/))[1]!;
  const get = async () => {
    const res = await fetch(`${url}?name=tester`);
    return { status: res.status, body: (await res.json()) as { message?: string; error?: string } };
  };

  assert.deepEqual((await get()).body.message, 'Hello, tester!');
  assert.equal((await get()).status, 200);
  assert.deepEqual(await get(), { status: 429, body: { error: 'rate_limited' } });

  const from = service.lines.length;
  await writeFile(configPath, withLimit(1000, true));
  await service.waitFor(/^reload app-config: success \(file\)/, { from });
  const answer = await eventually(async () => {
    const r = await get();
    return r.status === 200 ? r.body : undefined;
  }, 'the raised limit');
  assert.equal(answer.message, 'HELLO, TESTER!');

  // The HTTP trigger: POST only, bearer token, answers with the result and never with config content.
  const reloadUrl = new URL('/-/reload', url);
  assert.equal((await fetch(reloadUrl, { method: 'POST' })).status, 401);
  assert.equal((await fetch(reloadUrl, { method: 'POST', headers: { authorization: 'Bearer wrong-token-000000' } })).status, 401);
  assert.equal((await fetch(reloadUrl, { headers: { authorization: `Bearer ${token}` } })).status, 405);
  const res = await fetch(reloadUrl, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const text = await res.text();
  const result = JSON.parse(text) as { outcome: string; trigger: string; target: string; generation: number };
  assert.deepEqual([result.target, result.trigger, result.outcome, result.generation], ['app-config', 'http', 'unchanged', 2]);
  assert.ok(!text.includes('HELLO') && !text.includes('Hello'), text);
});
