import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LazyAbortController } from '../src/lazy-abort.ts';

test('a signal first read after abort() starts out aborted, with the reason given', () => {
  const c = new LazyAbortController();
  const reason = new DOMException('gone', 'AbortError');
  c.abort(reason);
  assert.equal(c.signal.aborted, true);
  assert.equal(c.signal.reason, reason);
  assert.equal(c.signal, c.signal, 'one signal, however often it is read');
});

test('a signal read before abort() fires its listeners once, and the first reason stays', () => {
  const c = new LazyAbortController();
  const signal = c.signal;
  let fired = 0;
  signal.addEventListener('abort', () => fired++);
  assert.equal(signal.aborted, false);
  c.abort('first');
  c.abort('second');
  assert.equal(fired, 1);
  assert.equal(signal.reason, 'first');
  const late = new LazyAbortController();
  late.abort('first');
  late.abort('second');
  assert.equal(late.signal.reason, 'first', 'also when the signal is made after both');
});
