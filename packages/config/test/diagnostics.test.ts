/**
 * The rejection line says what keeps serving only when that is known: after a rollback that itself
 * failed, core reports the previous hash but what runs is unknown.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReloadInstrumentation } from '@reloadscope/core';
import { type ConfigDiagnostic, reportRejection } from '../src/diagnostics.ts';

async function rejected(rollbackThrows: boolean): Promise<ConfigDiagnostic[]> {
  const reloads = new ReloadInstrumentation();
  let active = 'v1';
  const stages = (next: string) => ({
    load: () => next,
    switch: (candidate: string) => {
      const previous = active;
      active = candidate;
      if (candidate === 'v2') throw new Error('a listener refused');
      return previous;
    },
    rollback: (previous: string | undefined) => {
      if (rollbackThrows) throw new Error('and the rollback failed too');
      active = previous ?? active;
    },
  });
  await reloads.reload({ target: 'app', trigger: 'startup' }, stages('v1'));
  const result = await reloads.reload({ target: 'app', trigger: 'file' }, stages('v2'));
  const said: ConfigDiagnostic[] = [];
  reportRejection((d) => said.push(d), result);
  return said;
}

test('reload_rejected names what keeps serving after a rollback, and says it is unknown after a failed one', async () => {
  const [rolledBack] = await rejected(false);
  assert.match(rolledBack!.message, /^app: file reload ended with rollback \(\w+\); still serving [0-9a-f]{12}$/);
  const [failed] = await rejected(true);
  assert.equal(failed!.code, 'reload_rejected');
  assert.match(failed!.message, /^app: file reload ended with failure \(rollback_failed\); what is served now is unknown \(the rollback failed\)$/);
  assert.doesNotMatch(failed!.message, /still serving/);
});
