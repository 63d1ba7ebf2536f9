import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseAllDocuments, stringify } from 'yaml';
import { ConfigError } from '../src/errors.ts';
import { MAX_DEPTH } from '../src/parse-text.ts';
import { INLINE_MAX_BYTES, parseConfig } from '../src/parse.ts';

const yaml = (text: string) => parseConfig(new TextEncoder().encode(text), 'yaml');

test('a YAML stream of several documents is refused, not silently cut to the first', async () => {
  await assert.rejects(yaml('port: 80\n---\nport: 9\n'), { code: 'parse_error' });
  await assert.rejects(yaml('name: x\n---\n'), { code: 'parse_error' });
  assert.deepEqual(await yaml('---\nname: x\n'), { name: 'x' });
});

test('YAML with nothing but comments is empty; duplicate keys are a parse error', async () => {
  await assert.rejects(yaml('# nothing here\n'), { code: 'empty' });
  await assert.rejects(yaml('a: 1\na: 2\n'), { code: 'parse_error' });
});

const json = (text: string) => parseConfig(new TextEncoder().encode(text), 'json');

/** Rejects with a ConfigError of `code` whose message matches `message`; returns the message. */
async function rejection(p: Promise<unknown>, code: string, message?: RegExp): Promise<string> {
  let seen = '';
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (message) assert.match(err.message, message);
    seen = err.message;
    return true;
  });
  return seen;
}

// Old code reported where the parser noticed the end missing: often the end of the file.
test('an unclosed quote or flow collection is reported where it starts, by line and column only', async () => {
  const cases: Array<[string, string]> = [
    ['a: 1\nname: "secret-abc\nport: 8080\nx: y\n', 'line 2, column 7'],
    ["a: 1\nname: 'secret-abc\nport: 8080\n", 'line 2, column 7'],
    ['a: 1\nb: [1, 2\nc: 3\n', 'line 2, column 4'],
    ['a: 1\nb: {x: 1\nc: 3\n', 'line 2, column 4'],
    ['k: [1, "secret-abc]\n', 'line 1, column 8'],
    ['"secret-abc', 'line 1, column 1'],
  ];
  for (const [text, where] of cases) {
    const message = await rejection(yaml(text), 'parse_error', new RegExp(`at ${where}$`));
    assert.ok(!message.includes('secret') && !message.includes('port'), `no config content in "${message}"`);
  }
});

test('an unclosed quote anywhere in random documents is reported at its opening quote (fast-check)', async () => {
  const key = fc.stringMatching(/^[a-z][a-z0-9_]{0,11}$/);
  const value = fc.oneof(fc.integer(), fc.stringMatching(/^[a-z][a-z0-9 ]{0,20}[a-z0-9]$/), fc.array(fc.integer(), { maxLength: 5 }).map((a) => `[${a.join(', ')}]`));
  const doc = fc.uniqueArray(fc.tuple(key, value), { minLength: 1, maxLength: 40, selector: ([k]) => k });
  await fc.assert(
    fc.asyncProperty(doc, fc.nat(), fc.stringMatching(/^[a-z0-9 ]{0,30}$/), async (entries, pick, word) => {
      const i = pick % entries.length;
      const lines = entries.map(([k, v]) => `${k}: ${v}`);
      const [k] = entries[i]!;
      lines[i] = `${k}: "${word}`;
      const message = await rejection(yaml(`${lines.join('\n')}\n`), 'parse_error');
      assert.match(message, new RegExp(`\\(MISSING_CHAR\\) at line ${i + 1}, column ${k.length + 3}$`));
    }),
    { seed: 1411, numRuns: 150 },
  );
});

test('random YAML shapes within the inline size parse to the value they encode, each well within the parse bound (fast-check)', async () => {
  const shape = fc.jsonValue({ maxDepth: 6 });
  await fc.assert(
    fc.asyncProperty(shape, fc.boolean(), async (value, flow) => {
      const text = stringify(value, { collectionStyle: flow ? 'flow' : 'block' });
      fc.pre(Buffer.byteLength(text) <= INLINE_MAX_BYTES.yaml);
      const started = performance.now();
      const parsed = await yaml(text);
      assert.ok(performance.now() - started < 250, 'one inline parse stays far below a blocking loop');
      // Compared as JSON (YAML keeps -0, JSON does not).
      assert.equal(JSON.stringify(parsed), JSON.stringify(value));
    }),
    { seed: 1412, numRuns: 200 },
  );
});

// Old code: the `yaml` package's duplicate check compares each key with every earlier one
// (30k keys took 9 s with the loop blocked).
test('the duplicate-key check is linear: 30k keys parse in seconds, and a duplicate is still found with its line', { timeout: 60_000 }, async () => {
  let text = '';
  for (let i = 0; i < 30_000; i++) text += `key_${i}: v\n`;
  const started = performance.now();
  const value = (await yaml(text)) as Record<string, string>;
  assert.equal(Object.keys(value).length, 30_000);
  assert.ok(performance.now() - started < 4000, `30k keys parsed in ${(performance.now() - started).toFixed(0)} ms`);
  await rejection(yaml(`${text}key_17: again\n`), 'parse_error', /\(DUPLICATE_KEY\) at line 30001, column 1$/);
  await rejection(yaml('a: {x: 1, y: 2, x: 3}\n'), 'parse_error', /\(DUPLICATE_KEY\) at line 1, column 17$/);
  await rejection(yaml('- a: 1\n  b: 2\n  a: 3\n'), 'parse_error', /\(DUPLICATE_KEY\) at line 3, column 3$/);
  // Equal as the package defines it: the same scalar value. 1 and '1' differ; so do two .nan.
  assert.deepEqual(await yaml('1: a\n"1": b\n'), { 1: 'b' });
  assert.deepEqual(await yaml('.nan: a\n.nan: b\n'), { NaN: 'b' });
});

// V8's JSON.parse is iterative, so 500k levels parse; cloning them across threads or validating
// them with a recursive schema then overflows with an unexplained RangeError.
test('values nested deeper than MAX_DEPTH are refused with parse_error, inline and off-thread, JSON and YAML', { timeout: 60_000 }, async () => {
  const nest = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
  assert.equal((await json(nest(MAX_DEPTH))) !== undefined, true, 'exactly MAX_DEPTH is fine');
  assert.ok(nest(MAX_DEPTH + 1).length <= INLINE_MAX_BYTES.json);
  await rejection(json(nest(MAX_DEPTH + 1)), 'parse_error', /nests deeper than 1000 levels/);
  await rejection(json(nest(200_000)), 'parse_error', /nests deeper than 1000 levels/);
  assert.equal(((await json(`[${'[1],'.repeat(5000)}[1]]`)) as unknown[]).length, 5001, 'many brackets, shallow: fine');
  // Off-thread (over the inline size): the same answer, no DataCloneError/RangeError.
  await rejection(json(nest(1_500_000)), 'parse_error', /nests deeper than 1000 levels/);
  await rejection(json(`{"a":${'{"a":'.repeat(MAX_DEPTH)}1${'}'.repeat(MAX_DEPTH + 1)}`), 'parse_error', /nests deeper/);
  for (const depth of [MAX_DEPTH + 1, 30_000]) {
    const text = nest(depth);
    await assert.rejects(yaml(text), (err: unknown) => err instanceof ConfigError && err.code === 'parse_error');
  }
  // Aliases share one object: a wide DAG is visited once per object, not once per path.
  let dag = 'a0: &a0 [1]\n';
  for (let i = 1; i < 60; i++) dag += `a${i}: &a${i} [*a${i - 1}, *a${i - 1}]\n`;
  await assert.rejects(yaml(dag), { code: 'parse_error' }, 'alias expansion beyond maxAliasCount');
});

// The bracket count that decides whether the depth walk runs sums [ and { together: a value
// nesting MAX_DEPTH + 1 deep with neither kind alone past MAX_DEPTH is still refused.
test('JSON depth: mixed [ and { nesting is refused past MAX_DEPTH, brackets inside strings never refuse', async () => {
  const mixed = (n: number) => {
    let open = '';
    let close = '';
    for (let i = 0; i < n; i++) {
      open += i % 2 ? '{"k":' : '[';
      close = (i % 2 ? '}' : ']') + close;
    }
    return `${open}1${close}`;
  };
  assert.ok((await json(mixed(MAX_DEPTH))) !== undefined, 'exactly MAX_DEPTH, mixed: fine');
  await rejection(json(mixed(MAX_DEPTH + 1)), 'parse_error', /nests deeper than 1000 levels/);
  // Thousands of brackets, all inside strings: counted (the walk runs), never refused.
  assert.deepEqual(await json(JSON.stringify({ a: '[{'.repeat(3000) })), { a: '[{'.repeat(3000) });
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: MAX_DEPTH - 3, max: MAX_DEPTH + 3 }), fc.string({ maxLength: 40 }), async (depth, filler) => {
      const text = mixed(depth).replace('1', JSON.stringify(`${filler}[{`.repeat(400)));
      if (depth <= MAX_DEPTH) assert.ok((await json(text)) !== undefined);
      else await rejection(json(text), 'parse_error', /nests deeper/);
    }),
    { numRuns: 40, seed: 15 },
  );
});

// The linear check replaces the package's own (uniqueKeys: true): same verdict, same position.
test('the linear duplicate-key check agrees with the yaml package on random nested documents (fast-check)', async () => {
  // Keys chosen to collide, and to exercise the package's notion of equal: `1` (int) and `"1"`
  // (string) differ, `a` and `'a'` are the same string, `~` and `null` are both null.
  const key = fc.constantFrom('a', 'b', "'a'", '1', '"1"', '~', 'null', '.nan', 'true');
  const scalar = fc.constantFrom('1', 'x', '"y"', '~', '[]', '{}');
  type Tree = string | { map: Array<[string, Tree]> } | { seq: Tree[] };
  const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
    tree: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      scalar,
      fc.record({ map: fc.array(fc.tuple(key, tie('tree')), { minLength: 1, maxLength: 4 }) }),
      fc.record({ seq: fc.array(tie('tree'), { minLength: 1, maxLength: 3 }) }),
    ),
  }));
  const flow = (t: Tree): string =>
    typeof t === 'string' ? t : 'map' in t ? `{${t.map.map(([k, v]) => `${k}: ${flow(v)}`).join(', ')}}` : `[${t.seq.map(flow).join(', ')}]`;
  const block = (t: Tree, pad: string): string =>
    typeof t === 'string' || !('map' in t)
      ? `${pad}${flow(t)}\n`
      : t.map.map(([k, v]) => (typeof v === 'object' && 'map' in v ? `${pad}${k}:\n${block(v, `${pad}  `)}` : `${pad}${k}: ${flow(v)}\n`)).join('');
  const root = fc.record({ map: fc.array(fc.tuple(key, tree), { minLength: 1, maxLength: 6 }) });
  await fc.assert(
    fc.asyncProperty(root, fc.boolean(), async (doc, asFlow) => {
      const text = asFlow ? `${flow(doc)}\n` : block(doc, '');
      const oracle = parseAllDocuments(text, { uniqueKeys: true, logLevel: 'silent' });
      const errors = Array.isArray(oracle) ? (oracle[0]?.errors ?? []) : [];
      fc.pre(errors.every((e) => e.code === 'DUPLICATE_KEY'));
      // The package reports every duplicate (in flow maps after the value, in block maps before it);
      // ours is the first by position, and must be one of them.
      const positions = errors.map((e) => `line ${e.linePos?.[0].line}, column ${e.linePos?.[0].col}`);
      try {
        await yaml(text);
        assert.deepEqual(positions, [], `the package finds a duplicate in:\n${text}`);
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        const at = /^invalid YAML \(DUPLICATE_KEY\) at (line \d+, column \d+)$/.exec(err.message)?.[1];
        assert.ok(at && positions.includes(at), `${err.message} is not one of the package's [${positions.join('; ')}]:\n${text}`);
      }
    }),
    { seed: 1413, numRuns: 400 },
  );
});
