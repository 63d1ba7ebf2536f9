/**
 * examples/low-level: the low-level API around hand-written reload code, run as users run it
 * (`npm start` → `node --import @reloadscope/register src/main.ts`), driven by SIGHUP and HTTP.
 */
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { getJson, sample, scrape, start } from './child.ts';

const example = resolve(import.meta.dirname, '../../examples/low-level');

test('low-level example: stages, outcomes and error codes reach its output and its metrics', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'reloadscope-low-level-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const rulesPath = join(dir, 'rules.json');
  await copyFile(join(example, 'rules.json'), rulesPath);

  const app = start(t, 'npm', ['start'], {
    cwd: example,
    env: { RULES_PATH: rulesPath, PORT: '0', OTEL_EXPORTER_PROMETHEUS_PORT: '0', OTEL_TRACES_EXPORTER: 'none' },
  });
  const [, url, pid, metricsUrl] = await app.waitFor(/^low-level example on (http:\/\/[\d.:]+)\/\S* · pid (\d+) · metrics (http:\S+)$/);
  // As a user would: `kill -HUP <pid>` to the app itself, not to the group (npm would die of it).
  const hangUp = () => process.kill(Number(pid), 'SIGHUP');
  assert.match(app.output(), /^rules: success \(startup\) · 3 patterns active · hash [0-9a-f]{12} · gen 1$/m);
  const check = async (text: string) => (await getJson<{ blocked: boolean }>(`${url}/?text=${encodeURIComponent(text)}`)).body.blocked;
  assert.equal(await check('Casino   BONUS today'), true);
  assert.equal(await check('lottery win'), false);

  // A good edit, picked up on SIGHUP.
  await writeFile(rulesPath, JSON.stringify({ blocked: ['free money', 'casino\\s+bonus', '^buy now', 'lottery'] }));
  let from = app.lines.length;
  hangUp();
  await app.waitFor(/^rules: success \(signal\) · 4 patterns active · hash [0-9a-f]{12} · gen 2$/, { from });
  assert.equal(await check('lottery win'), true);

  // SIGHUP without a change: unchanged, nothing swapped.
  from = app.lines.length;
  hangUp();
  await app.waitFor(/^rules: unchanged \(signal\) · nothing to do · hash [0-9a-f]{12} · gen 2$/, { from });

  // An invalid pattern: the error value's stable code and safe message; the old rules keep serving.
  await writeFile(rulesPath, JSON.stringify({ blocked: ['fine', '(unclosed'] }));
  from = app.lines.length;
  hangUp();
  await app.waitFor(/^rules: failure \(signal\) · invalid_rules: blocked\[1\] is not a valid regular expression · hash [0-9a-f]{12} · gen 2$/, { from });
  assert.equal(await check('lottery win'), true);

  // Not JSON at all, through the HTTP trigger.
  await writeFile(rulesPath, '{ "blocked": [');
  const res = await fetch(`${url}/reload`, { method: 'POST' });
  assert.deepEqual(await res.json(), { outcome: 'failure', hash: (await activeHash(metricsUrl!)) });
  await app.waitFor(/^rules: failure \(http\) · parse_error: rules file is not valid JSON · hash/, { from });

  const text = await scrape(metricsUrl!);
  const reloads = (trigger: string, outcome: string) =>
    sample(text, 'hotreload_reloads_total', { hotreload_target: 'rules', hotreload_trigger: trigger, hotreload_outcome: outcome });
  assert.equal(reloads('startup', 'success'), 1);
  assert.equal(reloads('signal', 'success'), 1);
  assert.equal(reloads('signal', 'unchanged'), 1);
  assert.equal(reloads('signal', 'failure'), 1);
  assert.equal(reloads('http', 'failure'), 1);
  assert.equal(sample(text, 'hotreload_generation', { hotreload_target: 'rules' }), 2);
  assert.equal(sample(text, 'hotreload_consecutive_failures', { hotreload_target: 'rules' }), 2);
  // One histogram point per stage that ran: load ×5, verify ×4 (not for unchanged), switch ×2.
  const stages = (stage: string, outcome: string) =>
    sample(text, 'hotreload_stage_duration_seconds_count', { hotreload_target: 'rules', hotreload_stage: stage, hotreload_outcome: outcome });
  assert.equal(stages('load', 'success'), 5);
  assert.equal(stages('verify', 'success'), 2);
  assert.equal(stages('verify', 'failure'), 2);
  assert.equal(stages('switch', 'success'), 2);
});

/** The full hash of the active rules, from hotreload_config_info. */
async function activeHash(metricsUrl: string): Promise<string> {
  const m = /hotreload_config_info\{[^}]*hotreload_target="rules"[^}]*\}/.exec(await scrape(metricsUrl));
  const hash = m && /hotreload_config_hash="([0-9a-f]{64})"/.exec(m[0])?.[1];
  assert.ok(hash, 'hotreload_config_info must carry the active hash');
  return hash;
}
