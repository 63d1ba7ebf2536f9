import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { watchConfig } from '../src/index.ts';
import { telemetry, tempDir } from './harness.ts';

const schema = z.object({ name: z.string(), port: z.number().int().min(1).max(65535) });
type Cfg = z.infer<typeof schema>;

const unhandled: unknown[] = [];
process.on('unhandledRejection', (r) => unhandled.push(r));

/** Independent oracle for JSON: strict UTF-8, JSON.parse, schema. */
function jsonOracle(bytes: Uint8Array): Cfg | undefined {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    const r = schema.safeParse(JSON.parse(text));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));
const validConfig = fc.record({ name: fc.string({ maxLength: 20 }), port: fc.integer({ min: 1, max: 65535 }) });
const bytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 300 }),
  validConfig.map(enc),
  validConfig.chain((c) => fc.nat({ max: JSON.stringify(c).length }).map((n) => enc(JSON.stringify(c).slice(0, n)))),
  fc.jsonValue().map(enc),
  fc.string({ unit: 'binary', maxLength: 200 }).map(enc),
);

test('random bytes never crash the JSON reloader and only valid configs become current', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'prop.json');
  await writeFile(file, JSON.stringify({ name: 'start', port: 1 }));
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const config = await watchConfig({ path: file, schema, instrumentation: tel.reloads, watch: false, signal: false });
  t.after(() => config.close());

  await fc.assert(
    fc.asyncProperty(bytesArb, async (bytes) => {
      const before = config.current;
      await writeFile(file, bytes);
      const result = await config.reload();
      const expected = jsonOracle(bytes);
      if (expected === undefined) {
        assert.equal(result.outcome, 'failure');
        assert.ok(result.error && /^[a-z_]+$/.test(result.error.code), 'a stable error code');
        assert.equal(config.current, before, 'the active value is untouched');
      } else {
        assert.ok(result.outcome === 'success' || result.outcome === 'unchanged', result.outcome);
        assert.deepEqual(config.current, expected);
      }
    }),
    { numRuns: 300 },
  );
  assert.deepEqual(unhandled, []);
});

test('random bytes never crash the YAML reloader; a success is always a schema-valid parse', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'prop.yaml');
  await writeFile(file, 'name: start\nport: 1\n');
  const config = await watchConfig({ path: file, schema, watch: false, signal: false });
  t.after(() => config.close());
  const yamlish = fc.oneof(
    bytesArb,
    validConfig.map((c) => enc(`name: ${JSON.stringify(c.name)}\nport: ${c.port}\n`)),
    fc.array(fc.constantFrom('name: x\n', 'port: 80\n', '- a\n', '  ', ': ', '&a [*a]\n', '{', '}', '"', "'", '#', '\t', '---\n', '? '), { maxLength: 12 }).map((parts) => enc(parts.join(''))),
  );
  await fc.assert(
    fc.asyncProperty(yamlish, async (bytes) => {
      const before = config.current;
      await writeFile(file, bytes);
      const result = await config.reload();
      if (result.outcome === 'failure') {
        assert.equal(config.current, before);
        assert.ok(result.error && /^[a-z_]+$/.test(result.error.code));
      } else {
        assert.ok(result.outcome === 'success' || result.outcome === 'unchanged', result.outcome);
        const reparsed = schema.parse(parseYaml(new TextDecoder('utf-8', { fatal: true }).decode(bytes)));
        assert.deepEqual(config.current, reparsed);
      }
    }),
    { numRuns: 300 },
  );
  assert.deepEqual(unhandled, []);
});
