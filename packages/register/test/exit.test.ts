import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { trace } from '@opentelemetry/api';
import { getReloadscope, startReloadscope } from '../src/start.ts';
import {
  freePort,
  REPO_ROOT,
  type RunningApp,
  startApp,
  startOtlpReceiver,
  startSilentCollector,
  startUnacceptingCollector,
} from './helpers.ts';

// A short limit keeps the suite quick; the default (2 s) is covered by the env unit tests.
const LIMIT_MS = 1000;
// Process teardown and the parent noticing the exit; far below the 8-10 s the exporter alone takes.
const MARGIN_MS = 1200;

type Collector = 'down' | 'silent' | 'unaccepting';

async function collectorUrl(t: Parameters<typeof startApp>[0], kind: Collector): Promise<string> {
  if (kind === 'down') return `http://127.0.0.1:${await freePort()}`; // ECONNREFUSED
  if (kind === 'silent') return startSilentCollector(t);
  return startUnacceptingCollector(t);
}

/** The app pushes one signal over OTLP: traces (metrics off) or metrics (traces off). */
function exitEnv(path: string, endpoint: string, signal: 'traces' | 'metrics' = 'traces'): Record<string, string> {
  return {
    EXIT_PATH: path,
    OTEL_SERVICE_NAME: `exit-${path}`,
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    ...(signal === 'traces' ? { OTEL_METRICS_EXPORTER: 'none' } : { OTEL_TRACES_EXPORTER: 'none', OTEL_METRICS_EXPORTER: 'otlp' }),
    RELOADSCOPE_RUNTIME_METRICS: 'false',
    RELOADSCOPE_SHUTDOWN_TIMEOUT_MS: String(LIMIT_MS),
  };
}

async function timeExit(app: RunningApp, from: number): Promise<{ ms: number; code: number | null; signal: string | null }> {
  const exit = await app.exited;
  return { ms: Date.now() - from, ...exit };
}

for (const collector of ['down', 'silent', 'unaccepting'] as const) {
  test(`Collector ${collector}: an app that runs out of work exits within the shutdown limit`, async (t) => {
    const app = await startApp(t, 'exit-app.mjs', exitEnv('finish', await collectorUrl(t, collector)));
    const r = await timeExit(app, Date.now());
    t.diagnostic(`finished app exited ${r.ms} ms after its last line (limit ${LIMIT_MS} ms)`);
    assert.equal(r.code, 0, app.stderr());
    assert.ok(r.ms < LIMIT_MS + MARGIN_MS, `lingered ${r.ms} ms`);
  });

  test(`Collector ${collector}: shutdown() resolves within the limit and the process then exits`, async (t) => {
    const app = await startApp(t, 'exit-app.mjs', exitEnv('shutdown', await collectorUrl(t, collector)));
    const start = Date.now();
    let out = '';
    app.child.stdout!.on('data', (d: string) => {
      out += d;
    });
    const r = await timeExit(app, start);
    const line = out.split('\n').find((l) => l.startsWith('{"shutdownMs"'));
    assert.ok(line, `shutdown() never resolved; stderr:\n${app.stderr()}`);
    const { shutdownMs } = JSON.parse(line) as { shutdownMs: number };
    t.diagnostic(`shutdown() took ${shutdownMs} ms; the process exited ${r.ms} ms after it began`);
    assert.ok(shutdownMs <= LIMIT_MS + 300, `shutdown() took ${shutdownMs} ms`);
    assert.equal(r.code, 0);
    assert.ok(r.ms < LIMIT_MS + MARGIN_MS, `lingered ${r.ms} ms`);
  });

  test(`Collector ${collector}: SIGTERM ends the process within the limit, by the signal`, async (t) => {
    const app = await startApp(t, 'exit-app.mjs', exitEnv('signal', await collectorUrl(t, collector)));
    const start = Date.now();
    app.child.kill('SIGTERM');
    const r = await timeExit(app, start);
    t.diagnostic(`SIGTERM to exit: ${r.ms} ms`);
    assert.equal(r.signal, 'SIGTERM');
    assert.ok(r.ms < LIMIT_MS + MARGIN_MS, `lingered ${r.ms} ms`);
  });

  test(`Collector ${collector}: an app handling SIGTERM by draining exits within the limit`, async (t) => {
    const app = await startApp(t, 'exit-app.mjs', exitEnv('app-signal', await collectorUrl(t, collector)));
    const start = Date.now();
    app.child.kill('SIGTERM');
    const r = await timeExit(app, start);
    t.diagnostic(`SIGTERM (app handler) to exit: ${r.ms} ms`);
    assert.equal(r.code, 0, app.stderr());
    assert.ok(r.ms < LIMIT_MS + MARGIN_MS, `lingered ${r.ms} ms`);
  });
}

test('Collector down at the exit: what is said is true of a process that is ending, on every exit path', async (t) => {
  for (const path of ['finish', 'shutdown', 'signal']) {
    // The batch is due only at the exit: the one failed export is the exit's own.
    const app = await startApp(t, 'exit-app.mjs', exitEnv(path, `http://127.0.0.1:${await freePort()}`));
    if (path === 'signal') app.child.kill('SIGTERM');
    await app.exited;
    const said = app.stderr();
    assert.match(said, /\[reloadscope\] cannot export traces to http:\/\/127\.0\.0\.1:\d+\/v1\/traces \(.*ECONNREFUSED.*\) as the process ends; the spans of that export are lost\./, `${path}:\n${said}`);
    assert.doesNotMatch(said, /keeps running|keep running/, `${path}: the process is ending`);
  }
});

test('the give-up line names what set the limit: the shutdownTimeoutMs option, not the variable', async (t) => {
  const collector = await startSilentCollector(t);
  const script = `
    import { trace } from '@opentelemetry/api';
    import { startReloadscope } from '@reloadscope/register/api';
    const rs = startReloadscope({ shutdownTimeoutMs: 300, handleSignals: false, runtimeMetrics: false, probes: false,
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: ${JSON.stringify(collector)}, OTEL_METRICS_EXPORTER: 'none', OTEL_BSP_SCHEDULE_DELAY: '10' } });
    trace.getTracer('test').startSpan('pending').end();
    await new Promise((r) => setTimeout(r, 200));
    await rs.shutdown();`;
  const { stderr } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, timeout: 20_000 });
  assert.match(stderr, /gave up on 1 pending trace export when the 300 ms shutdown limit passed \(the shutdownTimeoutMs option\)/);
  assert.doesNotMatch(stderr, /RELOADSCOPE_SHUTDOWN_TIMEOUT_MS/);
});

// The OTLP metric exporter is held to the same limit: its final export (the periodic reader's flush
// at exit) goes to a Collector that accepts and never answers, or never accepts.
for (const collector of ['silent', 'unaccepting'] as const) {
  for (const path of ['finish', 'shutdown', 'signal', 'app-signal'] as const) {
    test(`metrics pushed over OTLP, Collector ${collector}: the ${path} exit path ends within the shutdown limit`, async (t) => {
      const app = await startApp(t, 'exit-app.mjs', exitEnv(path, await collectorUrl(t, collector), 'metrics'));
      const start = Date.now();
      if (path.endsWith('signal')) app.child.kill('SIGTERM');
      const r = await timeExit(app, start);
      t.diagnostic(`${path}: exited ${r.ms} ms after the exit began (limit ${LIMIT_MS} ms)`);
      if (path === 'signal') assert.equal(r.signal, 'SIGTERM');
      else assert.equal(r.code, 0, app.stderr());
      assert.ok(r.ms < LIMIT_MS + MARGIN_MS, `lingered ${r.ms} ms`);
    });
  }
}

test('an export already in flight when shutdown() is called is cut off at the limit, and the process exits', async (t) => {
  const env = {
    ...exitEnv('shutdown', await startSilentCollector(t)),
    OTEL_BSP_SCHEDULE_DELAY: '10', // the batch is sent at once, with the exporter's full 10 s timeout
    EXIT_AFTER_MS: '300',
  };
  const app = await startApp(t, 'exit-app.mjs', env);
  const r = await timeExit(app, Date.now());
  t.diagnostic(`process exited ${r.ms} ms after shutdown() began`);
  assert.equal(r.code, 0);
  assert.ok(r.ms < LIMIT_MS + MARGIN_MS, `lingered ${r.ms} ms on the in-flight request`);
  assert.match(app.stderr(), /gave up on 1 pending trace export when the 1000 ms shutdown limit passed/);
});

test('a metrics export already in flight when shutdown() is called is cut off at the limit, and said', async (t) => {
  const env = {
    ...exitEnv('shutdown', await startSilentCollector(t), 'metrics'),
    OTEL_METRIC_EXPORT_INTERVAL: '100', // an export starts at once, with the exporter's full 10 s timeout
    EXIT_AFTER_MS: '300',
  };
  const app = await startApp(t, 'exit-app.mjs', env);
  const r = await timeExit(app, Date.now());
  assert.equal(r.code, 0);
  assert.ok(r.ms < LIMIT_MS + MARGIN_MS, `lingered ${r.ms} ms on the in-flight request`);
  assert.match(app.stderr(), /gave up on \d+ pending metric exports? when the 1000 ms shutdown limit passed \(RELOADSCOPE_SHUTDOWN_TIMEOUT_MS\); those metric points are lost/);
});

test('a process revived by its own beforeExit listener exports normally again after the limit', async (t) => {
  const receiver = await startOtlpReceiver(t);
  const env = { ...exitEnv('revive', receiver.url), OTEL_BSP_SCHEDULE_DELAY: '100', REVIVE_AFTER_MS: String(LIMIT_MS + 300) };
  const app = await startApp(t, 'exit-app.mjs', env);
  assert.equal((await app.exited).code, 0);
  const body = JSON.stringify(receiver.requests.map((r) => r.body));
  assert.ok(body.includes('"app-config"'), 'the first reload, flushed on beforeExit');
  assert.ok(body.includes('"after-revival"'), `the reload after the revival, exported by the batch processor; stderr:\n${app.stderr()}`);
});

test('Collector up: every exit path still delivers the pending spans, and the metrics pushed over OTLP', async (t) => {
  for (const path of ['finish', 'shutdown', 'signal', 'app-signal']) {
    for (const signal of ['traces', 'metrics'] as const) {
      const receiver = await startOtlpReceiver(t);
      const app = await startApp(t, 'exit-app.mjs', exitEnv(path, receiver.url, signal));
      if (path.endsWith('signal')) app.child.kill('SIGTERM');
      await app.exited;
      const body = JSON.stringify(receiver.requests.map((r) => r.body));
      const expected = signal === 'traces' ? '"hotreload"' : '"hotreload.reloads"';
      assert.ok(body.includes(expected), `${path}: the reload's ${signal} reached the Collector; stderr:\n${app.stderr()}`);
      assert.ok(body.includes(`exit-${path}`), `${path}: under its service name`);
      assert.ok(receiver.requests.every((r) => r.path === `/v1/${signal}`));
    }
  }
});

test('shutdownTimeoutMs and stampGeneration: a bad option is a TypeError naming it; a good limit bounds shutdown() in code', async (t) => {
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number, 2 ** 31]) {
    assert.throws(() => startReloadscope({ shutdownTimeoutMs: bad }), (e: unknown) => e instanceof TypeError && /shutdownTimeoutMs/.test(e.message));
  }
  // A string in the wrong option may be a token: named by kind and size, never echoed.
  assert.throws(
    () => startReloadscope({ shutdownTimeoutMs: 'tok-S3CR3T' as unknown as number }),
    (e: unknown) => e instanceof TypeError && /a string of length 10/.test(e.message) && !e.message.includes('S3CR3T'),
  );
  for (const bad of ['yes', 1, null]) {
    assert.throws(() => startReloadscope({ stampGeneration: bad as unknown as boolean }), (e: unknown) => e instanceof TypeError && /stampGeneration/.test(e.message));
  }
  assert.equal(getReloadscope(), undefined, 'nothing started by a rejected call');
  const rs = startReloadscope({
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: await startSilentCollector(t), OTEL_METRICS_EXPORTER: 'none', OTEL_LOG_LEVEL: 'none' },
    shutdownTimeoutMs: 300,
    handleSignals: false,
    runtimeMetrics: false,
    probes: false,
  });
  trace.getTracer('test').startSpan('pending').end();
  const start = Date.now();
  await rs.shutdown();
  const ms = Date.now() - start;
  t.diagnostic(`shutdown() with a 300 ms limit took ${ms} ms`);
  assert.ok(ms >= 250 && ms < 600, `${ms} ms`);
});
