import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { ExitBoundedExporter } from '../src/exit-bounded-exporter.ts';

/** An exporter that holds every export until the test answers it (a Collector that hangs). */
class HeldExporter implements SpanExporter {
  readonly held: Array<(r: ExportResult) => void> = [];
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    this.timeoutMs = timeoutMs;
  }
  export(_spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.held.push(done);
  }
  async shutdown(): Promise<void> {
    await new Promise(() => {}); // never: shutdown must still return within the limit
  }
}

function setup(timeoutMs = 10_000) {
  const made: HeldExporter[] = [];
  const exporter = new ExitBoundedExporter<ReadableSpan[]>(
    (ms) => {
      const e = new HeldExporter(ms);
      made.push(e);
      return e;
    },
    timeoutMs,
    'traces',
  );
  const results: ExportResult[] = [];
  const send = () => exporter.export([], (r) => results.push(r));
  return { exporter, made, results, send };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('before exit: exports go to the running exporter with its own timeout, answered once', () => {
  const { made, results, send } = setup(7000);
  send();
  assert.equal(made.length, 1);
  assert.equal(made[0]!.timeoutMs, 7000);
  made[0]!.held[0]!({ code: ExportResultCode.SUCCESS });
  made[0]!.held[0]!({ code: ExportResultCode.FAILED }); // a second answer from below is ignored
  assert.deepEqual(results, [{ code: ExportResultCode.SUCCESS }]);
});

test('at exit: new exports get the time left as their timeout; at the deadline every pending export is answered FAILED', async () => {
  const { exporter, made, results, send } = setup(10_000);
  send(); // in flight on the running exporter
  exporter.beginExit(Date.now() + 150, 150);
  send(); // goes to the exit exporter
  assert.equal(made.length, 2);
  assert.ok(made[1]!.timeoutMs <= 150 && made[1]!.timeoutMs >= 1, String(made[1]!.timeoutMs));
  const start = Date.now();
  await exporter.shutdown(); // the inner shutdowns never resolve: bounded by the deadline
  assert.ok(Date.now() - start < 400);
  await sleep(20);
  assert.equal(results.length, 2);
  for (const r of results) {
    assert.equal(r.code, ExportResultCode.FAILED);
    assert.equal((r.error as { code?: string }).code, 'ERR_RELOADSCOPE_SHUTDOWN_LIMIT');
  }
  made[0]!.held[0]!({ code: ExportResultCode.SUCCESS }); // late answers change nothing
  assert.equal(results.length, 2);
  send(); // after the deadline: refused at once
  assert.deepEqual(
    results.map((r) => r.code),
    [ExportResultCode.FAILED, ExportResultCode.FAILED, ExportResultCode.FAILED],
  );
});

test('an exit that is cancelled (the process lived on) returns to the running exporter', async () => {
  const { exporter, made, results, send } = setup(10_000);
  exporter.beginExit(Date.now() + 50, 50);
  exporter.cancelExit(false);
  await sleep(80); // the limit timer was cleared: nothing is given up
  send();
  assert.equal(made.length, 1, 'no exit exporter was needed');
  assert.equal(made[0]!.held.length, 1);
  assert.equal(results.length, 0);
  exporter.beginExit(Date.now() + 10_000, 10_000);
  send();
  exporter.cancelExit(true); // the flush did not finish in time: what was pending is given up first
  assert.equal(results.length, 2);
  assert.ok(results.every((r) => r.code === ExportResultCode.FAILED));
});
