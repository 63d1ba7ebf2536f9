import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../src/parse.ts';

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
