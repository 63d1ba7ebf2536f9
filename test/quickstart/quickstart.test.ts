/**
 * The README's quickstart, as a newcomer runs it: a fresh clone of the committed HEAD, the
 * README's own commands (setup, then `npm start`), no Collector, no Docker. Then a config edit is
 * live, and a broken edit is rejected while the service keeps answering with the good version.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { eventually, getJson, sample, scrape, start } from './child.ts';

const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');

/** The README's quickstart code block. */
function quickstartBlock(readme: string): string {
  const section = readme.split(/^## Quickstart\s*$/m)[1];
  assert.ok(section, 'README.md has no "## Quickstart" section');
  const block = /```(?:sh|bash|shell)\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(block, 'the Quickstart section has no sh code block');
  return block;
}

/** Its commands, comments stripped. */
function quickstartCommands(block: string): string[] {
  return block
    .split('\n')
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

test('README quickstart in a fresh clone: serves, reloads an edit, rejects a broken one', { timeout: 300_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'reloadscope-quickstart-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const clone = join(dir, 'reloadscope');
  await run('git', ['clone', '--quiet', repo, clone]);

  const block = quickstartBlock(await readFile(join(clone, 'README.md'), 'utf8'));
  const commands = quickstartCommands(block);
  // The URL the README promises is the one the example serves on by default.
  const promised = [...block.matchAll(/http:\/\/localhost:(\d+)(?!\d|\/metrics)/g)].map((m) => Number(m[1]));
  const configured = Number(/^\s+port: (\d+)/m.exec(await readFile(join(clone, 'examples/config-service/config.yaml'), 'utf8'))?.[1]);
  assert.deepEqual(promised, [configured], `README quickstart promises ${promised.join(', ')}; config.yaml serves on ${configured}`);
  const startAt = commands.indexOf('npm start');
  assert.ok(startAt > 0, `the quickstart must set up, then run npm start; it says: ${JSON.stringify(commands)}`);
  for (const command of commands.slice(0, startAt)) {
    if (command.startsWith('git clone') || command.startsWith('cd ')) continue; // we are in the clone already
    // Same install, but from the local cache when it has the packages and without network chatter.
    const setup = /^npm (ci|install)$/.test(command) ? `${command} --prefer-offline --no-audit --no-fund` : command;
    await run('sh', ['-c', setup], { cwd: clone, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 });
  }

  // No Collector is started: traces have nowhere to go and the service must not care.
  const service = start(t, 'npm', ['start'], { cwd: clone, env: { PORT: '0', OTEL_EXPORTER_PROMETHEUS_PORT: '0' } });
  const url = (await service.waitFor(/config-service listening on (http:\S+)/, { timeoutMs: 60_000 }))[1]!;
  const metricsUrl = (await service.waitFor(/^\s+metrics: (http:\S+)/))[1]!;
  await service.waitFor(/^reload app-config: success \(startup\) in .* · hash [0-9a-f]{12} · gen 1$/);

  type Answer = { message: string; config: string };
  const first = await getJson<Answer>(url);
  assert.equal(first.status, 200);
  const count = async (trigger: string, outcome: string) =>
    sample(await scrape(metricsUrl), 'hotreload_reloads_total', { hotreload_target: 'app-config', hotreload_trigger: trigger, hotreload_outcome: outcome });
  // Outcome series exist at 0 from startup (core creates them per trigger on the trigger's first use).
  assert.equal(await count('startup', 'success'), 1);
  assert.equal(await count('startup', 'failure'), 0);
  const reloads = async (outcome: string) => (await count('file', outcome)) ?? 0;
  assert.equal(await reloads('success'), 0);
  assert.equal(await reloads('failure'), 0);

  // Edit the config the way the README tells users to: the answer changes, a success is counted.
  const configPath = join(clone, 'examples/config-service/config.yaml');
  const original = await readFile(configPath, 'utf8');
  assert.match(original, /^greeting: .+$/m);
  const greeting = `Quickstart ${randomBytes(4).toString('hex')}`;
  await writeFile(configPath, original.replace(/^greeting: .+$/m, `greeting: ${greeting}`));
  const edited = await eventually(async () => {
    const answer = await getJson<Answer>(url);
    return answer.body.message.startsWith(`${greeting}, `) ? answer.body : undefined;
  }, 'the edited greeting');
  assert.notEqual(edited.config, first.body.config);
  await eventually(async () => (await reloads('success')) === 1, 'hotreload_reloads_total{outcome="success"} to count the edit');
  await service.waitFor(/^reload app-config: success \(file\) .* · gen 2$/);

  // A broken edit: counted as a failure, and the service keeps answering with the edited version.
  await writeFile(configPath, `${original.replace(/^greeting: .+$/m, 'greeting: [unclosed')}`);
  await eventually(async () => (await reloads('failure')) >= 1, 'hotreload_reloads_total{outcome="failure"} to count the broken edit');
  await service.waitFor(/^reload app-config: failure \(file\) .*parse_error: .* · hash ([0-9a-f]{12}) · gen 2$/);
  const after = await getJson<Answer>(url);
  assert.deepEqual(after, { status: 200, body: edited });
  assert.equal(await reloads('success'), 1);

  // With nothing listening for traces, register says so at most once (no spam).
  const traceComplaints = service.lines.filter((l) => /cannot export traces/.test(l));
  assert.ok(traceComplaints.length <= 1, traceComplaints.join('\n'));
});
