/**
 * Counts and lists in the prose of every README and ARCHITECTURE.md are true (scripts/doc-facts.ts),
 * and the check can fail: a wrong count, a list that differs from its source, an error code nobody
 * produces and a new count nothing checks are each refused.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { docFiles, factProblems, withFacts } from '../../scripts/doc-facts.ts';

const root = new URL('../../', import.meta.url);
const text = (file: string) => readFileSync(new URL(file, root), 'utf8');

test('every count and list in the prose of the documentation is its source’s', () => {
  const files = docFiles();
  assert.ok(files.includes('README.md') && files.includes('ARCHITECTURE.md') && files.includes('collector/README.md'));
  assert.ok(files.filter((f) => f.startsWith('packages/')).length >= 5 && files.some((f) => f.startsWith('examples/')));
  for (const file of files) {
    assert.deepEqual(factProblems(file, text(file)), [], file);
    assert.equal(withFacts(file, text(file)), text(file), `${file} is stale: run \`npm run docs\``);
  }
});

test('a wrong count is refused and rewritten from its source', () => {
  const readme = text('README.md');
  const wrong = readme.replace(/for all \w+ outcomes/, 'for all four outcomes');
  assert.notEqual(wrong, readme);
  assert.match(factProblems('README.md', wrong).join('\n'), /"four" should be "five"/);
  assert.equal(withFacts('README.md', wrong), readme);
  const moved = readme.replace(/The test suite runs \d+ upgrades/, 'The test suite runs upgrades');
  assert.match(factProblems('README.md', moved).join('\n'), /no sentence matches .*The test suite runs/);
});

test('a list that is not its source’s is refused: a missing error code, a code nobody produces', () => {
  const core = text('packages/core/README.md');
  const dropped = core.replace(/^\| `target_in_use` \|.*\n/m, '');
  assert.notEqual(dropped, core);
  assert.match(factProblems('packages/core/README.md', dropped).join('\n'), /core error-code table .*missing \["target_in_use"\]/);
  const cluster = text('packages/cluster/README.md');
  const invented = cluster.replace('`bad_signature`', '`signature_invalid`');
  assert.notEqual(invented, cluster);
  assert.match(factProblems('packages/cluster/README.md', invented).join('\n'), /`signature_invalid` in an error\.type column is no error code/);
});

test('a new count that nothing checks is refused; measured sections and code are not counts of the repository', () => {
  const readme = text('README.md');
  const added = readme.replace('## Install\n', '## Install\n\nreloadscope has 9 packages.\n');
  assert.match(factProblems('README.md', added).join('\n'), /README\.md:\d+: "9 packages" is a count in prose that nothing checks/);
  const inCode = readme.replace('## Install\n', '## Install\n\n```text\n9 packages\n```\n');
  assert.deepEqual(factProblems('README.md', inCode), []);
});
