import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { cleanEnv, FIXTURES } from './helpers.ts';

const run = promisify(execFile);

async function loadsRuntimeNode(extra: Record<string, string>): Promise<boolean> {
  const { stdout } = await run(process.execPath, ['--import', `${FIXTURES}loaded-modules.mjs`, '--import', '@reloadscope/register', '-e', ''], {
    env: cleanEnv({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_PROMETHEUS_PORT: '0', ...extra }),
    cwd: FIXTURES,
  });
  return (JSON.parse(stdout) as { runtimeNode: boolean }).runtimeNode;
}

test('start-up loads nothing the environment disabled: RELOADSCOPE_RUNTIME_METRICS=false never loads runtime-node', async () => {
  assert.equal(await loadsRuntimeNode({ RELOADSCOPE_RUNTIME_METRICS: 'false' }), false);
});

test('runtime metrics on (the default): runtime-node is loaded, after boot', async () => {
  assert.equal(await loadsRuntimeNode({}), true);
});
