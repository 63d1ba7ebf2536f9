import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkSource, SOURCE_RULES, sourceProblems } from '../../scripts/source-rules.ts';

test('the repository holds none of the refused source patterns', () => {
  assert.deepEqual(sourceProblems(), []);
});

test('each source rule catches the defect it is named after, and lets the fixed form through', () => {
  const cases: Record<string, { bad: string[]; good: string[]; path: string }> = {
    'falsy-default': {
      path: 'packages/cluster/src/x.ts',
      bad: [
        'void drain(Number((message as { idleCloseMs?: unknown }).idleCloseMs) || 1000);',
        'const n = Number.parseInt(g, 16) || 0;',
        'const need = [Number(wanted[2] || 0)];',
        'let state = seed >>> 0 || 1;',
        'x ||= 5;',
      ],
      good: ['const ms = typeof v === "number" ? v : DEFAULT;', 'const n = Number(wanted[2] ?? 0);', "const s = parts.join(', ') || 'none';", '// Number(x) || 1000 was the bug'],
    },
    'shared-listen': {
      path: 'packages/register/src/x.ts',
      bad: ['server.listen(port, host, () => {', 'this.#server.listen({ host, port }, () => {'],
      good: ['server.listen({ port, host, exclusive: true }, () => {', 'const listen = Server.prototype.listen;'],
    },
    'unguarded-listener': {
      path: 'packages/config/src/x.ts',
      bad: ["import { createServer, type Server } from 'node:http';\nconst server = createServer(OPTIONS, handler);"],
      good: [
        "import { createServer } from 'node:http';\nconst server = createServer(OPTIONS, handler);\nguardListener(server, 16);",
        "import { createServer } from 'node:net';\nconst forwarder = createServer(handler);",
      ],
    },
  };
  assert.deepEqual(Object.keys(cases).sort(), SOURCE_RULES.map((r) => r.name).sort(), 'every rule has cases');
  for (const [name, { path, bad, good }] of Object.entries(cases)) {
    const rule = SOURCE_RULES.filter((r) => r.name === name);
    for (const text of bad) assert.equal(checkSource(path, text, rule).length, 1, `${name} misses: ${text}`);
    for (const text of good) assert.deepEqual(checkSource(path, text, rule), [], `${name} refuses: ${text}`);
  }
  // Package-source rules read package sources only: tests and scripts may listen as they like.
  assert.deepEqual(checkSource('test/support/http-load.ts', "server.listen(0, '127.0.0.1');"), []);
});
