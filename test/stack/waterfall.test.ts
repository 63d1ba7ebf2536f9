/**
 * The terminal view's two halves without a Jaeger: reading api_v3's OTLP JSON into runs, and the
 * waterfall text. Input comes from a server, so both are fuzzed: any JSON gives runs or nothing,
 * never a throw, and every bar stays inside its frame whatever the span times say.
 * (The view against the real Jaeger: test/e2e/stack.test.ts.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type OtlpTraces, type ReloadTrace, reloadTracesFrom, searchUrl, traceUrl } from '../../scripts/reload-traces.ts';
import { barCells, renderWaterfall } from '../../scripts/reload-waterfall.ts';

const T0 = 1_764_581_000_000_000_000n; // 2025-12-01T09:23:20Z in ns
const ms = (n: number) => String(T0 + BigInt(Math.round(n * 1e6)));
const str = (key: string, value: string) => ({ key, value: { stringValue: value } });

function span(traceId: string, spanId: string, name: string, from: number, to: number, extra: object = {}) {
  return { traceId, spanId, name, startTimeUnixNano: ms(from), endTimeUnixNano: ms(to), ...extra };
}

const body: OtlpTraces = {
  result: {
    resourceSpans: [
      {
        scopeSpans: [
          {
            spans: [
              span('a'.repeat(32), 'r1', 'hotreload', 0, 10, {
                attributes: [str('hotreload.target', 'app-config'), str('hotreload.trigger', 'file'), str('hotreload.outcome', 'success'), { key: 'hotreload.generation', value: { intValue: '2' } }],
              }),
              span('a'.repeat(32), 's3', 'hotreload.switch', 6, 8, { parentSpanId: 'r1', attributes: [str('hotreload.stage', 'switch')] }),
              span('a'.repeat(32), 's1', 'hotreload.load', 0, 5, { parentSpanId: 'r1', attributes: [str('hotreload.stage', 'load')] }),
              span('a'.repeat(32), 's2', 'hotreload.verify', 5, 6, { parentSpanId: 'r1', attributes: [str('hotreload.stage', 'verify')] }),
              span('a'.repeat(32), 's4', 'hotreload.unload', 8, 10, { parentSpanId: 'r1', attributes: [str('hotreload.stage', 'unload')] }),
              span('b'.repeat(32), 'r2', 'hotreload', 1000, 1004, {
                attributes: [str('hotreload.target', 'app-config'), str('hotreload.trigger', 'file'), str('hotreload.outcome', 'failure'), str('error.type', 'parse_error')],
              }),
              span('b'.repeat(32), 'f1', 'hotreload.load', 1000, 1004, {
                parentSpanId: 'r2',
                status: { code: 2 },
                attributes: [str('hotreload.stage', 'load'), str('error.type', 'parse_error')],
              }),
              span('c'.repeat(32), 'x', 'GET /', 0, 1), // not a reload
            ],
          },
        ],
      },
    ],
  },
};

test('api_v3 OTLP JSON becomes runs, newest first, stages in start order', () => {
  const runs = reloadTracesFrom(body);
  assert.equal(runs.length, 2);
  const [failure, success] = runs as [ReloadTrace, ReloadTrace];
  assert.equal(failure.outcome, 'failure');
  assert.equal(failure.errorType, 'parse_error');
  assert.deepEqual(
    failure.stages.map((s) => [s.stage, s.failed, s.errorType]),
    [['load', true, 'parse_error']],
  );
  assert.deepEqual(
    success.stages.map((s) => s.stage),
    ['load', 'verify', 'switch', 'unload'],
  );
  assert.equal(success.generation, 2);
  assert.equal(success.endNs - success.startNs, 10_000_000n);
});

test('the waterfall: a line per run, a bar per stage placed and sized by the run', () => {
  const text = renderWaterfall(reloadTracesFrom(body), { width: 20 });
  const lines = text.split('\n');
  assert.equal(lines.length, 7, text);
  assert.match(lines[0]!, /^2025-12-01 09:23:20\.000Z {2}app-config {2}file {5}success {15}\s+10ms {2}gen 2 {2}trace a{32}$/);
  // load is 0-5 of 10 ms: the first half; verify 5-6; switch 6-8; unload 8-10.
  assert.equal(lines[1], `    load     │${'█'.repeat(10)}${' '.repeat(10)}│   5.0ms`);
  assert.equal(lines[2], `    verify   │${' '.repeat(10)}${'█'.repeat(2)}${' '.repeat(8)}│   1.0ms`);
  assert.equal(lines[3], `    switch   │${' '.repeat(12)}${'█'.repeat(4)}${' '.repeat(4)}│   2.0ms`);
  assert.equal(lines[4], `    unload   │${' '.repeat(16)}${'█'.repeat(4)}│   2.0ms`);
  assert.match(lines[5]!, /^2025-12-01 09:23:21\.000Z {2}app-config {2}file {5}failure {4}parse_error {2}\s+4\.0ms {2}trace b{32}$/);
  assert.equal(lines[6], `    load   ✗ │${'█'.repeat(20)}│   4.0ms  parse_error`);
  assert.ok(!text.includes('\x1b['), 'no colour unless a style is given');
  const styled = renderWaterfall(reloadTracesFrom(body), { style: (format, t) => `<${format}>${t}</${format}>` });
  assert.match(styled, /<red> {4}load {3}✗/);
  assert.match(styled, /<green>success/);
});

test('the search URL carries every parameter Jaeger v2 requires', () => {
  const url = new URL(searchUrl('http://127.0.0.1:16686/', { service: 'svc', end: new Date('2026-01-01T00:00:00Z'), limit: 5 }));
  assert.equal(url.pathname, '/api/v3/traces');
  assert.deepEqual(Object.fromEntries(url.searchParams), {
    'query.service_name': 'svc',
    'query.operation_name': 'hotreload',
    'query.start_time_min': '2025-12-31T23:00:00.000Z',
    'query.start_time_max': '2026-01-01T00:00:00.000Z',
    'query.num_traces': '5',
  });
});

test('a Jaeger URL behind a proxy path with its own query keeps both: the API path goes into the path', () => {
  const url = new URL(searchUrl('https://jaeger.example/tracing/?token=t0k', { service: 'svc', end: new Date('2026-01-01T00:00:00Z') }));
  assert.equal(url.pathname, '/tracing/api/v3/traces');
  assert.equal(url.searchParams.get('token'), 't0k');
  assert.equal(url.searchParams.get('query.service_name'), 'svc');
  assert.equal(traceUrl('https://jaeger.example/tracing?token=t0k', 'ab12'), 'https://jaeger.example/tracing/api/v3/traces/ab12?token=t0k');
});

test('fuzz: any JSON from the server reads as runs or nothing, and renders without throwing', () => {
  const spanLike = fc.record(
    {
      traceId: fc.oneof(fc.constant('t'), fc.string()),
      spanId: fc.oneof(fc.constant('r'), fc.string()),
      parentSpanId: fc.oneof(fc.constant('r'), fc.anything({ maxDepth: 2 })),
      name: fc.oneof(fc.constantFrom('hotreload', 'hotreload.load', 'hotreload.verify'), fc.anything({ maxDepth: 2 })),
      startTimeUnixNano: fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 20n - 1n }).map(String), fc.anything({ maxDepth: 2 })),
      endTimeUnixNano: fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 20n - 1n }).map(String), fc.anything({ maxDepth: 2 })),
      status: fc.anything({ maxDepth: 2 }),
      attributes: fc.oneof(fc.array(fc.record({ key: fc.constantFrom('hotreload.target', 'error.type', 'hotreload.generation'), value: fc.anything({ maxDepth: 2 }) })), fc.anything({ maxDepth: 2 })),
    },
    { requiredKeys: [] },
  );
  const bodies = fc.oneof(
    fc.anything({ maxDepth: 2 }),
    fc.record({ result: fc.record({ resourceSpans: fc.array(fc.record({ scopeSpans: fc.array(fc.record({ spans: fc.array(spanLike) })) })) }) }),
  );
  fc.assert(
    fc.property(bodies, (b) => {
      const runs = reloadTracesFrom(b as OtlpTraces);
      renderWaterfall(runs, { width: 30 });
    }),
    { seed: 14, numRuns: 200 },
  );
});

test('fuzz: a stage bar is at least one cell and never leaves the frame, whatever the times', () => {
  const time = fc.bigInt({ min: 0n, max: 10n ** 20n });
  fc.assert(
    fc.property(time, time, time, time, fc.integer({ min: 1, max: 200 }), (runStart, runEnd, from, to, width) => {
      const run = { startNs: runStart, endNs: runEnd } as ReloadTrace;
      const { offset, length } = barCells(run, { stage: 'load', startNs: from, endNs: to, failed: false, errorType: undefined }, width);
      assert.ok(Number.isInteger(offset) && Number.isInteger(length));
      assert.ok(offset >= 0 && length >= 1 && offset + length <= width, `${offset}+${length} in ${width}`);
    }),
    { seed: 14, numRuns: 5_000 },
  );
});
