import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultIdentity } from '../src/hash.ts';

test('defaultIdentity: key order does not matter, and a `__proto__` key (own, as JSON and YAML parse it) is hashed like any key', () => {
  const id = (json: string) => defaultIdentity(JSON.parse(json))?.hash;
  assert.equal(id('{"a":1,"b":{"c":2,"d":3}}'), id('{"b":{"d":3,"c":2},"a":1}'));
  // Two configs that differ only under `__proto__` are two versions, not one `unchanged`.
  assert.notEqual(id('{"__proto__":{"admin":false},"a":1}'), id('{"__proto__":{"admin":true},"a":1}'));
  assert.notEqual(id('{"__proto__":{"admin":true}}'), id('{}'));
});
