import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { test } from 'node:test';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { DeferredExporter } from '../src/deferred-exporter.ts';

/** Records each export with the async-context value it ran in, and answers it at once. */
class RecordingExporter implements SpanExporter {
  readonly exports: Array<{ spans: number; context: string | undefined }> = [];
  shutdowns = 0;
  readonly scope: AsyncLocalStorage<string>;
  constructor(scope: AsyncLocalStorage<string>) {
    this.scope = scope;
  }
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.exports.push({ spans: spans.length, context: this.scope.getStore() });
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {
    this.shutdowns += 1;
  }
}

const spans = (n: number) => Array.from({ length: n }, () => ({}) as ReadableSpan);

test('exports made before the exporter is loaded wait for it, in their own async context, and the load runs once', async () => {
  const scope = new AsyncLocalStorage<string>();
  let loads = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => {
    release = r;
  });
  const inner = new RecordingExporter(scope);
  const deferred = new DeferredExporter<ReadableSpan[]>(async () => {
    loads += 1;
    await gate;
    return inner;
  });
  const results: ExportResult[] = [];
  scope.run('first', () => deferred.export(spans(1), (r) => results.push(r)));
  scope.run('second', () => deferred.export(spans(2), (r) => results.push(r)));
  assert.equal(inner.exports.length, 0, 'nothing is exported before the load');
  release();
  await deferred.load();
  await new Promise((r) => setImmediate(r));
  assert.equal(loads, 1);
  assert.deepEqual(inner.exports, [
    { spans: 1, context: 'first' },
    { spans: 2, context: 'second' },
  ]);
  deferred.export(spans(3), (r) => results.push(r));
  assert.equal(inner.exports.length, 3, 'once loaded, exports go straight through');
  assert.deepEqual(
    results.map((r) => r.code),
    [ExportResultCode.SUCCESS, ExportResultCode.SUCCESS, ExportResultCode.SUCCESS],
  );
  await deferred.shutdown();
  assert.equal(inner.shutdowns, 1);
});

test('a load that fails answers each export FAILED with its error; flush and shutdown still resolve', async () => {
  const deferred = new DeferredExporter<ReadableSpan[]>(() => Promise.reject(new Error('Cannot find package')));
  const results = await Promise.all([1, 2].map(() => new Promise<ExportResult>((resolve) => deferred.export(spans(1), resolve))));
  for (const r of results) {
    assert.equal(r.code, ExportResultCode.FAILED);
    assert.match(String(r.error?.message), /Cannot find package/);
  }
  await deferred.forceFlush();
  await deferred.shutdown();
});

test('an exporter never used is not loaded to be flushed or shut down', async () => {
  let loads = 0;
  const deferred = new DeferredExporter<ReadableSpan[]>(async () => {
    loads += 1;
    return new RecordingExporter(new AsyncLocalStorage());
  });
  await deferred.forceFlush();
  await deferred.shutdown();
  assert.equal(loads, 0);
});
