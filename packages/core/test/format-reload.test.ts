import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReloadError } from '../src/errors.ts';
import { formatReload, logReloads } from '../src/format-reload.ts';
import { sha256Hex } from '../src/hash.ts';
import { ReloadInstrumentation } from '../src/instrumentation.ts';

const STAGE = /(load|verify|switch|unload) \d+(\.\d)?ms/.source;

test('formatReload: one line per outcome; a refused candidate is named next to the version that keeps running', async () => {
  const reloads = new ReloadInstrumentation();
  const lines: string[] = [];
  const stop = logReloads(reloads, (line) => lines.push(line));
  const stages = (version: string, verify?: () => void) => ({
    load: () => version,
    identify: (v: string) => ({ hash: sha256Hex(v), version: v }),
    verify,
    switch: () => undefined,
  });
  const h = (v: string) => sha256Hex(v).slice(0, 12);

  const first = await reloads.reload({ target: 'app-code', trigger: 'startup' }, stages('r1'));
  await reloads.reload({ target: 'app-code', trigger: 'signal' }, stages('r2', () => {
    throw new ReloadError('ready_timeout', 'worker 3 was not ready within 10 ms');
  }));
  await reloads.reload({ target: 'app-code', trigger: 'signal' }, stages('r1'));
  await reloads.reload({ target: 'app-code', trigger: 'http' }, {
    load: () => {
      throw new ReloadError('release_invalid', 'no such release');
    },
    switch: () => undefined,
  });
  stop();
  await reloads.reload({ target: 'app-code', trigger: 'api' }, stages('r3'));

  assert.equal(lines.length, 4, lines.join('\n'));
  assert.match(lines[0]!, new RegExp(`^reload app-code: success \\(startup\\) in \\d+(\\.\\d)?ms · ${STAGE}, ${STAGE} · version r1 · hash ${h('r1')} · gen 1$`));
  assert.match(lines[1]!, new RegExp(`^reload app-code: failure \\(signal\\) .* ✗failure · ready_timeout: worker 3 was not ready within 10 ms · candidate r2 · version r1 · hash ${h('r1')} · gen 1$`));
  assert.match(lines[2]!, new RegExp(`^reload app-code: unchanged \\(signal\\) .* · version r1 · hash ${h('r1')} · gen 1$`));
  // Refused before it was identified: no candidate to name.
  assert.match(lines[3]!, new RegExp(`^reload app-code: failure \\(http\\) in .* · load .* ✗failure · release_invalid: no such release · version r1 · hash ${h('r1')} · gen 1$`));
  assert.equal(formatReload(first), lines[0]);
});
