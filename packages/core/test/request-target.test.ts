import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { requestPath } from '../src/request-target.ts';

test('requestPath: the path of origin- and absolute-form targets, undefined for everything else', () => {
  assert.equal(requestPath('/reload'), '/reload');
  assert.equal(requestPath('/reload?x=1#f'), '/reload');
  assert.equal(requestPath('//'), '//', 'an empty first segment is a legal origin-form path (new URL threw)');
  assert.equal(requestPath('//x/reload'), '//x/reload', 'not re-read as a network-path reference');
  assert.equal(requestPath('/a/../reload'), '/a/../reload', 'no normalisation: routes match exact paths');
  assert.equal(requestPath('http://example.com/metrics?x'), '/metrics');
  assert.equal(requestPath('HTTPS://h:1'), '/');
  for (const bad of ['http://[', 'http://[::1', '*', 'example.com:443', 'ftp://h/reload', '', 'reload', '/a b', '/a\0', '/\u00e9', undefined, 7]) {
    assert.equal(requestPath(bad), undefined, JSON.stringify(bad));
  }
  assert.equal(requestPath(`/${'a'.repeat(9000)}`), undefined, 'length-capped');
});

test('requestPath never throws, and any path it returns starts with / and is visible ASCII', () => {
  const pieces = fc.constantFrom('/', '//', '?', '#', '[', ']', '@', ':', '%', '%zz', 'http://', 'https://', '*', '..', '\\', 'a', '\0', ' ', '\u00ff');
  const target = fc.oneof(fc.string({ unit: 'binary' }), fc.array(pieces, { maxLength: 12 }).map((a) => a.join('')));
  fc.assert(
    fc.property(target, (t) => {
      const path = requestPath(t);
      if (path !== undefined) assert.match(path, /^\/[\x21-\x7e]*$/);
    }),
    { seed: 11, numRuns: 5000 },
  );
});
