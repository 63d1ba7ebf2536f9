import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from './harness.ts';

test('unloaded versions are released: their signals abort, their timers stop, and they are garbage-collected', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'gc.json');
  await writeFile(file, JSON.stringify({ n: 0, blob: '' }));
  const child = fileURLToPath(new URL('./fixtures/gc-child.ts', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', child, file], { timeout: 30_000 });
  const out = JSON.parse(stdout);
  assert.equal(out.current, 5);
  assert.deepEqual(out.aborted, [true, true, true, true, true]);
  assert.equal(out.held, 5);
  assert.deepEqual(out.collected, [true, true, true, true, true], 'no unloaded version is retained, even while its signal is');
  assert.equal(out.handles, 1, 'only the active version keeps its timer');
});
