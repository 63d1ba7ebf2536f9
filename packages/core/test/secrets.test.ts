import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DiagLogLevel, diag } from '@opentelemetry/api';
import { ReloadError } from '../src/errors.ts';
import { setup } from './harness.ts';

const SECRET = 'hunter2-S3CR3T-marker';
/** A prefix of the secret: parsers quote truncated snippets, so search for the part they keep. */
const PROBE = 'hunter2';

test('config values never reach spans, events, metric attributes or diagnostics', async () => {
  const logged: string[] = [];
  const capture = (...args: unknown[]) => logged.push(args.map(String).join(' '));
  diag.setLogger({ error: capture, warn: capture, info: capture, debug: capture, verbose: capture }, DiagLogLevel.ALL);
  const original = { log: console.log, error: console.error, warn: console.warn };
  console.log = console.error = console.warn = capture;
  try {
    const h = setup();
    let active = { password: 'old' };
    const sw = async (c: { password: string }) => {
      const p = active;
      active = c;
      return p;
    };
    const text = `{"password": ${SECRET}}`;
    // 1. success with a secret inside the candidate
    await h.reloads.reload({ target: 'db' }, { load: () => ({ password: SECRET }), switch: sw });
    // 2. a parser error that quotes the input (V8's JSON.parse does)
    const r2 = await h.reloads.reload({ target: 'db' }, { load: () => JSON.parse(text), switch: sw });
    assert.equal(r2.outcome, 'failure');
    assert.equal(r2.error?.code, 'SyntaxError');
    assert.ok(String((r2.error?.cause as Error | undefined)?.message).includes(PROBE), 'the test really produced a leaking message');
    assert.ok(!r2.error?.message.includes(PROBE), 'the result message is withheld too');
    // 3. a validator that puts the value in its message, at verify, switch and rollback
    await h.reloads.reload({ target: 'db' }, {
      load: () => ({ password: `${SECRET}!` }),
      verify: (c) => {
        throw new Error(`password ${c.password} too weak`);
      },
      switch: sw,
    });
    await h.reloads.reload({ target: 'db' }, {
      load: () => ({ password: `${SECRET}?` }),
      switch: () => {
        throw new RangeError(`cannot apply ${SECRET}`);
      },
      rollback: () => {
        throw new Error(`rollback of ${SECRET} failed`);
      },
    });
    // 4. observers that throw with the value in the message
    h.reloads.addObserver({
      runEnded: () => {
        throw new Error(`observer saw ${SECRET}`);
      },
    });
    await h.reloads.reload({ target: 'db' }, { load: () => ({ password: `${SECRET}#` }), switch: sw });
    // 5. a ReloadError written properly carries a safe message that IS exported
    await h.reloads.reload({ target: 'db' }, {
      load: () => ({ password: `${SECRET}$` }),
      verify: () => {
        throw new ReloadError('schema_violation', 'password: expected at least 12 characters');
      },
      switch: sw,
    });

    const spans = await h.spans();
    assert.ok(spans.length >= 10);
    const exported = JSON.stringify(
      spans.map((s) => ({ n: s.name, a: s.attributes, e: s.events, st: s.status, l: s.links.map((l) => l.attributes) })),
    );
    assert.ok(exported.includes('password: expected at least 12 characters'), 'safe ReloadError messages are exported');
    assert.ok(!exported.includes(PROBE), 'a span carries the secret');
    const metrics = JSON.stringify(await h.metrics());
    assert.ok(!metrics.includes(PROBE), 'a metric attribute carries the secret');
    assert.ok(logged.some((l) => l.includes('observer')), 'the observer failure was reported');
    assert.ok(!logged.join('\n').includes(PROBE), 'a log line carries the secret');
  } finally {
    Object.assign(console, original);
    diag.disable();
  }
});

test("errorMessages: 'all' opts in to raw messages", async () => {
  const h = setup({ errorMessages: 'all' });
  await h.reloads.reload({ target: 'x' }, { load: () => { throw new Error('raw detail'); }, switch: () => 0 });
  const ev = (await h.spans()).find((s) => s.name === 'hotreload.load')?.events[0];
  assert.equal(ev?.attributes?.['exception.message'], 'raw detail');
});
