import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { test } from 'node:test';
import { countActiveResources, diffResources, diffSnapshots, snapshotActiveResources } from '../src/index.ts';
import { eventually } from './harness.ts';

test('counting handles interleaved types and repeated runs of one type', () => {
  const snapshot = ['A', 'A', 'B', 'A', 'C', 'C', 'B'];
  const delta = diffSnapshots([], snapshot);
  assert.deepEqual(Object.fromEntries(delta), { A: 3, B: 2, C: 2 });
  assert.deepEqual(Object.fromEntries(diffSnapshots(snapshot, [])), { A: -3, B: -2, C: -2 });
});

test('a delta lists every type of either snapshot, 0 included', () => {
  const delta = diffSnapshots(['Timeout', 'TCPServerWrap', 'Timeout'], ['TCPServerWrap', 'Timeout', 'FSReqCallback', 'TCPServerWrap']);
  assert.deepEqual(Object.fromEntries(delta), { Timeout: -1, TCPServerWrap: 1, FSReqCallback: 1 });
  assert.deepEqual(Object.fromEntries(diffSnapshots(['X', 'Y'], ['Y', 'X'])), { X: 0, Y: 0 });
  const reused = new Map([['Stale', 7]]);
  assert.equal(diffSnapshots(['X'], ['X', 'X'], reused), reused);
  assert.deepEqual(Object.fromEntries(reused), { X: 1 }, 'a reused map keeps nothing of its previous delta');
  // Unchanged lists (the usual clean reload) take a shortcut that must give the same answer.
  assert.deepEqual(Object.fromEntries(diffSnapshots(['A', 'B', 'A'], ['A', 'B', 'A'], reused)), { A: 0, B: 0 });
  assert.deepEqual(
    Object.fromEntries(diffResources(new Map([['X', 2], ['Y', 1]]), new Map([['X', 2], ['Z', 4]]))),
    { X: 0, Y: -1, Z: 4 },
  );
});

test('real handles: three listening servers show as +3 TCPServerWrap, and 0 once closed', async (t) => {
  const servers: Server[] = [];
  t.after(() => Promise.all(servers.map((s) => new Promise((r) => s.close(r)))));
  const before = snapshotActiveResources()!;
  const countedBefore = countActiveResources()!;
  for (let i = 0; i < 3; i++) {
    const server = createServer();
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  }
  const open = diffSnapshots(before, snapshotActiveResources()!);
  assert.equal(open.get('TCPServerWrap'), 3);
  assert.equal(countActiveResources()!.get('TCPServerWrap'), (countedBefore.get('TCPServerWrap') ?? 0) + 3);
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  // A closed handle leaves Node's list once libuv has run its close callback, a turn or so later.
  await eventually(() => ((diffSnapshots(before, snapshotActiveResources()!).get('TCPServerWrap') ?? 0) === 0 ? true : undefined), 'servers gone', 5_000);
});
