import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { METRIC_LIST } from '../../packages/core/src/catalogue.ts';
import { END, START, renderMetricTable, withMetricTable } from '../../scripts/metrics-doc.ts';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

test('the README metric table is the one generated from the catalogue', () => {
  assert.equal(withMetricTable(readme), readme, 'README.md is stale: run `npm run docs:metrics`');
});

test('the generated table lists every catalogue instrument once', () => {
  const table = renderMetricTable();
  for (const d of METRIC_LIST) assert.equal(table.split(`\`${d.name}\``).length - 1, 1, d.name);
  assert.ok(readme.includes(START) && readme.includes(END));
});

test('a stale table is detected', () => {
  const stale = readme.replace('hotreload_generation', 'hotreload_generations');
  assert.notEqual(withMetricTable(stale), stale);
});
