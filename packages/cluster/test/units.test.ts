import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { mergeExpositions, WORKER_LABEL } from '../src/metrics-endpoint.ts';
import { requestsEphemeralPort } from '../src/listen-request.ts';
import { checkClusterOptions } from '../src/options.ts';
import { commonAddresses, listenerOf, serving } from '../src/service-address.ts';
import { DEFAULT_IDLE_CLOSE_MS, idleCloseOf, MESSAGE_KEY } from '../src/protocol.ts';
import { withheldEnv } from '../src/worker-env.ts';

test('mergeExpositions: any text from any worker merges without throwing; every sample survives, labelled; one HELP/TYPE per family', () => {
  const name = fc.stringMatching(/^[a-z_][a-z0-9_]{0,8}$/);
  const sample = fc.tuple(name, fc.option(fc.stringMatching(/^[a-z]{1,3}="[^"\n]{0,5}"$/)), fc.integer()).map(([n, l, v]) => (l ? `${n}{${l}} ${v}` : `${n} ${v}`));
  const family = fc.tuple(name, fc.array(sample, { maxLength: 4 })).map(([n, s]) => [`# HELP ${n} h`, `# TYPE ${n} counter`, ...s].join('\n'));
  const text = fc.oneof(fc.array(family, { maxLength: 4 }).map((f) => f.join('\n')), fc.string({ maxLength: 200 }));
  fc.assert(
    fc.property(fc.array(fc.tuple(text, fc.option(fc.nat(3), { nil: undefined })), { maxLength: 4 }), (inputs) => {
      const merged = mergeExpositions(inputs.map(([t, slot]) => ({ text: t, slot })));
      const lines = merged.split('\n');
      const types = lines.filter((l) => l.startsWith('# TYPE '));
      assert.equal(new Set(types.map((l) => l.split(' ')[2])).size, types.length);
      // Every worker sample carries a slot label: nothing a worker prints poses as the primary's.
      const primary = new Set(inputs.filter(([, slot]) => slot === undefined).flatMap(([t]) => t.split('\n')));
      for (const l of lines) if (l && !l.startsWith('#') && !primary.has(l)) assert.match(l, new RegExp(`^[a-zA-Z_:][a-zA-Z0-9_:]*\\{${WORKER_LABEL}="\\d"`), l);
      for (const [t, slot] of inputs) {
        for (const line of t.split('\n').filter((l) => /^[a-zA-Z_:]/.test(l))) {
          if (slot === undefined) assert.ok(lines.includes(line), line);
          else assert.ok(lines.some((l) => l.includes(`${WORKER_LABEL}="${slot}"`)), line);
        }
      }
    }),
    { seed: 12, numRuns: 300 },
  );
});

test('mergeExpositions adds the slot label to labelled and unlabelled samples alike', () => {
  const merged = mergeExpositions([
    { text: '# TYPE up gauge\nup 1\n', slot: undefined },
    { text: '# TYPE up gauge\nup 1\nx_total{a="b"} 2\n', slot: 1 },
  ]);
  assert.equal(merged, `# TYPE up gauge\nup 1\nup{${WORKER_LABEL}="1"} 1\nx_total{${WORKER_LABEL}="1",a="b"} 2\n`);
});

test('option errors are TypeErrors naming the option', () => {
  const base = { release: '/srv/app', entry: 'server.js' };
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...base, release: '' }, /options\.release/],
    [{ ...base, entry: 42 }, /options\.entry/],
    [{ ...base, workers: 0 }, /options\.workers/],
    [{ ...base, workers: Number.NaN }, /options\.workers/],
    [{ ...base, workers: 1000 }, /options\.workers/],
    [{ ...base, readyTimeoutMs: -1 }, /options\.readyTimeoutMs/],
    [{ ...base, drainTimeoutMs: Number.POSITIVE_INFINITY }, /options\.drainTimeoutMs/],
    [{ ...base, health: 'healthz' }, /options\.health/],
    [{ ...base, target: 'x'.repeat(200) }, /options\.target/],
    [{ ...base, env: { A: 1 } }, /options\.env/],
    [{ ...base, execArgv: '--inspect' }, /options\.execArgv/],
    [{ ...base, publicKey: 5 }, /options\.publicKey/],
    [{ ...base, port: 0 }, /options\.port/],
    [{ ...base, port: 70000 }, /options\.port/],
    [{ ...base, port: '3000' }, /options\.port/],
  ];
  for (const [options, message] of bad) assert.throws(() => checkClusterOptions(options as never, 2), (err: Error) => err instanceof TypeError && message.test(err.message), JSON.stringify(options));
  assert.equal(checkClusterOptions(base, 3).workers, 3);
  assert.equal(checkClusterOptions(base, 3).target, 'app-code');
});

test('requestsEphemeralPort reads listen() arguments as net.Server#listen does', () => {
  const fn = () => {};
  const cases: Array<[unknown[], boolean]> = [
    [[3000], false],
    [['3000'], false],
    [[3000, '127.0.0.1', fn], false],
    [[{ port: 3000, host: '::' }], false],
    [[0], true],
    [['0'], true],
    [[], true],
    [[fn], true],
    [[undefined, '127.0.0.1'], true],
    [[{ host: '127.0.0.1', port: 0, exclusive: true }], true],
    [[{ host: '127.0.0.1' }], true],
    [['/run/app.sock'], false],
    [[{ path: '/run/app.sock' }], false],
    [[{ fd: 3 }], false],
  ];
  for (const [args, ephemeral] of cases) assert.equal(requestsEphemeralPort(args), ephemeral, JSON.stringify(args));
});

test('a listening message is taken only with well-formed fields; the service address is learned from what every worker serves', () => {
  const ok = { id: 1, address: '::', port: 3000, ephemeral: false, health: null };
  assert.deepEqual(listenerOf(ok), { id: 1, listener: { key: '[::]:3000', port: 3000, ephemeral: false, health: undefined } });
  assert.equal(listenerOf({ ...ok, address: '/run/a.sock', port: null })?.listener.key, 'unix:/run/a.sock');
  for (const bad of [{ ...ok, id: '1' }, { ...ok, port: 70000 }, { ...ok, port: 1.5 }, { ...ok, address: 5 }, { ...ok, address: 'x'.repeat(2000) }, { ...ok, ephemeral: 'no' }, { ...ok, health: 0 }, {}]) {
    assert.equal(listenerOf(bad as never), undefined, JSON.stringify(bad).slice(0, 80));
  }
  const l = (key: string, port: number, ephemeral = false) => ({ key, port, ephemeral, health: undefined });
  const listeners = [l('127.0.0.1:41234', 41234, true), l('[::]:3000', 3000), l('[::]:9000', 9000)];
  assert.deepEqual(serving(listeners, { learn: true, port: undefined })?.map((x) => x.key), ['[::]:3000', '[::]:9000']);
  assert.deepEqual(serving(listeners, { learn: true, port: 9000 })?.map((x) => x.key), ['[::]:9000']);
  assert.equal(serving(listeners, { learn: true, port: 4000 }), undefined);
  assert.equal(serving([listeners[0]!], { learn: true, port: undefined }), undefined, 'an ephemeral listener never serves');
  assert.deepEqual(serving(listeners, { addresses: ['[::]:3000'] })?.map((x) => x.key), ['[::]:3000']);
  assert.equal(serving(listeners, { addresses: ['[::]:3000', '127.0.0.1:3000'] }), undefined);
  assert.deepEqual(commonAddresses([['a', 'b'], ['b', 'a', 'c']]), ['a', 'b']);
  assert.deepEqual(commonAddresses([['a'], ['b']]), []);
});

test('a drain message keeps every valid idle-close delay, 0 included; only an unusable one gets the default', () => {
  for (const ms of [0, 1, 500, 2_147_483_647]) assert.equal(idleCloseOf({ [MESSAGE_KEY]: 'drain', idleCloseMs: ms }), ms);
  for (const bad of [undefined, null, -1, Number.NaN, Number.POSITIVE_INFINITY, '0', '']) {
    assert.equal(idleCloseOf({ [MESSAGE_KEY]: 'drain', idleCloseMs: bad }), DEFAULT_IDLE_CLOSE_MS, String(bad));
  }
  assert.equal(idleCloseOf(null), DEFAULT_IDLE_CLOSE_MS);
  assert.equal(checkClusterOptions({ release: '/srv/app', entry: 'server.js', idleCloseMs: 0 }, 1).idleCloseMs, 0);
  assert.equal(checkClusterOptions({ release: '/srv/app', entry: 'server.js' }, 1).idleCloseMs, DEFAULT_IDLE_CLOSE_MS);
});

test('withheldEnv: the supervisor namespace and every variable holding a secret, by name, and nothing else', () => {
  const env = { PATH: '/bin', RELOADSCOPE_CLUSTER_HTTP_TOKEN: 't0ken-t0ken', RELOADSCOPE_CLUSTER_HTTP_PORT: '9000', AUTH: 'Bearer s3cret-value', MINE: 's3cret-value', OTHER: 's3cret', EMPTY: '' };
  assert.deepEqual(withheldEnv(env, ['s3cret-value', undefined, '']), { RELOADSCOPE_CLUSTER_HTTP_TOKEN: undefined, RELOADSCOPE_CLUSTER_HTTP_PORT: undefined, AUTH: undefined, MINE: undefined });
  assert.deepEqual(withheldEnv({ PATH: '/bin' }, []), {});
});
