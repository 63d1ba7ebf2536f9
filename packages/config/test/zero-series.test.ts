import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { OUTCOMES } from '@reloadscope/core';
import { watchConfig } from '../src/index.ts';
import { telemetry, tempDir } from './harness.ts';

test('every (trigger, outcome) series the watcher can produce exists at 0 right after startup', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'app.json');
  await writeFile(file, '{"a":1}');
  const tel = telemetry();
  const config = await watchConfig({ path: file, instrumentation: tel.reloads, watch: true, signal: 'SIGHUP' });
  t.after(() => config.close());
  const target = { 'hotreload.target': 'app.json' };
  assert.equal(await tel.metric('hotreload.reloads', { ...target, 'hotreload.trigger': 'startup', 'hotreload.outcome': 'success' }), 1);
  for (const trigger of ['file', 'poll', 'signal', 'api']) {
    for (const outcome of OUTCOMES) {
      assert.equal(await tel.metric('hotreload.reloads', { ...target, 'hotreload.trigger': trigger, 'hotreload.outcome': outcome }), 0, `${trigger}/${outcome}`);
    }
  }
  // No HTTP trigger configured: no http series.
  assert.equal(await tel.metric('hotreload.reloads', { ...target, 'hotreload.trigger': 'http', 'hotreload.outcome': 'success' }), undefined);
});
