import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ReloadInstrumentation, sha256Hex } from '@reloadscope/core';

const reloads = new ReloadInstrumentation();
const path = join(tmpdir(), `rules-${process.pid}.json`);
await writeFile(path, '{"blocked": ["^/admin"]}');
let rules: RegExp[] = [];

// Existing reload code, wrapped stage by stage: each stage() is one span and one histogram point.
async function reloadRules(): Promise<void> {
  const run = reloads.start({ target: 'rules', trigger: 'file', timeoutMs: 2_000 });
  try {
    const text = await run.stage('load', ({ signal }) => readFile(path, { encoding: 'utf8', signal }));
    run.candidate({ hash: sha256Hex(text), size: text.length }); // identity, never content
    const next = await run.stage('verify', () => (JSON.parse(text).blocked as string[]).map((p) => new RegExp(p)));
    await run.stage('switch', () => {
      rules = next;
    });
    const result = run.end('success');
    console.log(`rules ${result.outcome}: generation ${result.generation}, ${rules.length} rule(s)`);
  } catch (err) {
    const result = run.fail(err); // outcome 'failure' (or 'timeout'); the span records the error type
    console.log(`rules ${result.outcome}: ${result.error?.code}; still ${rules.length} rule(s)`);
  }
}

await reloadRules();
await writeFile(path, '{"blocked": ["(unclosed"]}');
await reloadRules();
