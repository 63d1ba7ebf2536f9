/**
 * Packaged READMEs are read on the registry's package page, where a relative link resolves against
 * nothing: every link in them must be absolute (or an in-page anchor). scripts/check-packages.ts
 * applies relativeLinks() to each packed README; this pins down what it catches.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { published, REPOSITORY, ROOT, relativeLinks } from '../../scripts/packages.ts';

test('relativeLinks finds inline, image, reference and HTML links that are not absolute', () => {
  const md = [
    'See [core](../core) and [the README](../../README.md#instrumenting-your-own-reloads).',
    '![diagram](docs/flow.png) and [spaced]( <./src/index.ts> )',
    '[ref]: ../config/README.md',
    '<a href="../node">node</a> <img src=\'logo.svg\'>',
    `Fine: [repo](${REPOSITORY}#readme), [anchor](#errors), [mail](mailto:a@b.c), [http](http://example.com/x)`,
  ].join('\n');
  assert.deepEqual(relativeLinks(md).sort(), ['../../README.md#instrumenting-your-own-reloads', '../config/README.md', '../core', '../node', './src/index.ts', 'docs/flow.png', 'logo.svg'].sort());
});

test('every published package README links only absolutely', () => {
  for (const { dir } of published()) assert.deepEqual(relativeLinks(readFileSync(join(ROOT, dir, 'README.md'), 'utf8')), [], dir);
});

test('relativeLinks returns quickly on any text and reports every relative inline link it is given', () => {
  const segment = fc.stringMatching(/^[a-z0-9._-]{1,12}$/);
  fc.assert(
    fc.property(fc.string({ maxLength: 2000 }), fc.array(fc.array(segment, { minLength: 1, maxLength: 4 }), { maxLength: 5 }), (noise, paths) => {
      const links = paths.map((p) => `../${p.join('/')}`);
      const text = `${noise.replaceAll(/[[\]()<>"'=]/g, ' ')}\n${links.map((l, i) => `[link ${i}](${l})`).join(' ')}`;
      const started = performance.now();
      const found = relativeLinks(text);
      assert.ok(performance.now() - started < 500, 'linear time');
      assert.deepEqual(found, links);
    }),
    { seed: 14, numRuns: 300 },
  );
  assert.ok(relativeLinks(`${'[a]('.repeat(20_000)}x`).length >= 1);
});
