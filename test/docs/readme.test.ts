import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { METRIC_LIST } from '../../packages/core/src/catalogue.ts';
import { END, RULES_PATH, START, renderAlertTable, renderMetricTable, snippetPaths, withGenerated } from '../../scripts/readme-blocks.ts';

const root = new URL('../../', import.meta.url);
const readme = readFileSync(new URL('README.md', root), 'utf8');
const run = promisify(execFile);

test('the README generated blocks (metric table, snippets) are up to date', () => {
  assert.equal(withGenerated(readme, root), readme, 'README.md is stale: run `npm run docs`');
});

test('the generated table lists every catalogue instrument once', () => {
  const table = renderMetricTable();
  for (const d of METRIC_LIST) assert.equal(table.split(`\`${d.name}\``).length - 1, 1, d.name);
  assert.ok(readme.includes(START) && readme.includes(END));
});

test('the alert table lists every rule of the rules file', () => {
  const rules = readFileSync(new URL(RULES_PATH, root), 'utf8');
  const names = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
  assert.ok(names.length >= 7);
  const table = renderAlertTable(rules);
  for (const n of names) assert.ok(table.includes(`| \`${n}\` |`), n);
  assert.ok(!table.includes('{{'), 'templates are rendered as placeholders');
});

test('a stale table or snippet is detected', () => {
  const stale = readme.replace('hotreload_generation', 'hotreload_generations');
  assert.notEqual(withGenerated(stale, root), stale);
  const edited = readme.replace("return { greeting: 'bonjour' } satisfies Config;", "return { greeting: 'hola' } satisfies Config;");
  assert.notEqual(edited, readme);
  assert.notEqual(withGenerated(edited, root), edited);
});

// The README's snippets are programs: run each and check what it prints.
const EXPECTED: Record<string, RegExp> = {
  'packages/core/examples/reload.ts': /^unloaded hello\nsuccess 1 [0-9a-f]{12} bonjour\nunchanged\n$/,
  'packages/core/examples/low-level.ts': /^rules success: generation 1, 1 rule\(s\)\nrules failure: SyntaxError; still 1 rule\(s\)\n$/,
  'packages/config/examples/quick.ts': /^success bonjour\nfailure parse_error bonjour\nrollback subscriber_failed bonjour\n$/,
};

// Snippets that are servers (they run until stopped) are driven by their own test instead.
const SERVERS: Record<string, string> = {
  'packages/config/examples/tls-server.ts': 'packages/config/test/examples.test.ts',
};

test('every README snippet runs and prints what the README says', async () => {
  const paths = snippetPaths(readme);
  assert.deepEqual(paths.sort(), [...Object.keys(EXPECTED), ...Object.keys(SERVERS)].sort());
  for (const [path, suite] of Object.entries(SERVERS)) {
    const name = path.split('/').at(-1)!;
    assert.ok(readFileSync(new URL(suite, root), 'utf8').includes(`examples/${name}`), `${suite} must run ${path}`);
  }
  for (const path of paths.filter((p) => !(p in SERVERS))) {
    const { stdout } = await run(process.execPath, [new URL(path, root).pathname], { timeout: 30_000 });
    assert.match(stdout, EXPECTED[path]!, path);
  }
});
