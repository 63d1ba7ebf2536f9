/**
 * `npm run demo` (examples/config-service) runs its whole tour against the real service and every
 * reload outcome shows up both in the service's printed lines and on its Prometheus endpoint; run
 * as the README says, it ends by itself with a summary, stops its service and exits 0.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { sample, scrape, start } from './child.ts';

const root = resolve(import.meta.dirname, '../..');
const OUTCOMES = ['success', 'failure', 'timeout', 'rollback', 'unchanged'];

/** Whether anything accepts connections at `url`'s host and port. */
function listening(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((done) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });
}

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('npm run demo ends by itself: a summary, its service stopped, exit 0, and no credential printed', { timeout: 120_000 }, async (t) => {
  const marker = `mk${randomBytes(6).toString('hex')}`;
  const demo = start(t, 'npm', ['run', 'demo'], {
    cwd: root,
    env: {
      PORT: '0',
      OTEL_EXPORTER_PROMETHEUS_PORT: '0',
      OTEL_SERVICE_NAME: 'config-service-demo-test',
      // Credentials in the user's environment, which the demo passes on to its service (nothing listens there).
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://demo:${marker}@127.0.0.1:9?token=${marker}`,
      OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${marker}`,
    },
  });
  const metricsUrl = (await demo.waitFor(/service │ {3}metrics: (http:\S+)/))[1]!;
  const servicePid = Number((await demo.waitFor(/service │ {3}config: .*SIGHUP to pid (\d+)\)/))[1]);
  const exit = await demo.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, demo.output());
  assert.ok(demo.lines.some((l) => /^ {4}hotreload_reloads_total trigger=file outcome=success → \d+$/.test(l)), `the summary from the scrape:\n${demo.output()}`);
  assert.match(demo.lines.at(-1)!, /^Demo finished: 8 reloads, every outcome seen; the service is stopped\./);
  assert.equal(running(servicePid), false, 'the service process is gone');
  assert.equal(await listening(metricsUrl), false, 'its metrics port is free');
  // It printed no URL of the stopped service as a place to look.
  const whereToLook = demo.lines.slice(demo.lines.indexOf('Where to look:'));
  assert.ok(!whereToLook.some((l) => l.includes(new URL(metricsUrl).host)), whereToLook.join('\n'));
  assert.ok(demo.lines.some((l) => l.includes('cannot export traces to http://***@127.0.0.1:9/v1/traces?token=***')), demo.output());
  assert.deepEqual(demo.lines.filter((l) => l.includes(marker)), [], 'a credential printed');
});

test('npm run demo -- --keep-running produces every outcome, printed and on the metrics endpoint', { timeout: 120_000 }, async (t) => {
  const demo = start(t, 'npm', ['run', 'demo', '-w', 'examples/config-service', '--', '--keep-running'], {
    cwd: root,
    // Ephemeral ports: the suite runs on machines where 3000/9464 may be taken.
    env: { PORT: '0', OTEL_EXPORTER_PROMETHEUS_PORT: '0', OTEL_SERVICE_NAME: 'config-service-demo-test' },
  });
  await demo.waitFor(/^Tour complete\./, { timeoutMs: 90_000 });
  const metricsUrl = (await demo.waitFor(/service │ {3}metrics: (http:\S+)/))[1]!;

  // The printed lines: one per reload, and each of the eight steps got the outcome it was built for.
  const printed = demo.lines.flatMap((l) => /service │ reload app-config: (\w+) \((\w+)\)/.exec(l)?.slice(1, 3) ?? []);
  const outcomes = new Set(printed.filter((_, i) => i % 2 === 0));
  for (const outcome of OUTCOMES) assert.ok(outcomes.has(outcome), `no ${outcome} reload line in:\n${demo.output()}`);
  const verdicts = demo.lines.flatMap((l) => /^ {4}→ (\w+);/.exec(l)?.[1] ?? []);
  assert.deepEqual(verdicts, ['success', 'unchanged', 'failure', 'failure', 'rollback', 'timeout', 'success', 'unchanged']);
  assert.ok(demo.lines.includes('    without the token: HTTP 401'), 'the HTTP trigger must refuse a request without the token');

  // The same story on the real Prometheus endpoint, scraped here rather than trusting the demo's summary.
  const text = await scrape(metricsUrl);
  const reloads = (trigger: string, outcome: string) =>
    sample(text, 'hotreload_reloads_total', { hotreload_target: 'app-config', hotreload_trigger: trigger, hotreload_outcome: outcome });
  assert.equal(reloads('startup', 'success'), 1);
  assert.equal(reloads('signal', 'unchanged'), 1);
  assert.equal(reloads('http', 'unchanged'), 1);
  // File events may arrive twice for one save (a second run then repeats the outcome or is
  // `unchanged`), so file-triggered counts are lower bounds; signal and HTTP ones are exact.
  assert.ok(reloads('file', 'success')! >= 2, text);
  for (const outcome of ['failure', 'rollback', 'timeout']) assert.ok(reloads('file', outcome)! >= 1, `file ${outcome}:\n${text}`);

  // Three versions were ever active (startup, the good edit, the fix): rejected ones never count.
  assert.equal(sample(text, 'hotreload_generation', { hotreload_target: 'app-config' }), 3);
  assert.equal(sample(text, 'hotreload_consecutive_failures', { hotreload_target: 'app-config' }), 0);
  assert.equal(sample(text, 'hotreload_last_reload_success', { hotreload_target: 'app-config' }), 1);
  // The timeout happened in the switch stage (the subscriber waiting for the black-hole upstream).
  const timedOutSwitch = sample(text, 'hotreload_stage_duration_seconds_count', {
    hotreload_target: 'app-config',
    hotreload_stage: 'switch',
    hotreload_outcome: 'timeout',
  });
  assert.ok(timedOutSwitch! >= 1, text);
  // The active hash is the fixed config's, as the last reload line says.
  const lastHash = /hash ([0-9a-f]{12}) · gen 3$/.exec(demo.lines.filter((l) => l.includes('reload app-config: success (file)')).at(-1)!)?.[1];
  assert.ok(lastHash, demo.output());
  assert.match(text, new RegExp(`hotreload_config_info\\{[^}]*hotreload_config_hash="${lastHash}[0-9a-f]{52}"[^}]*\\} 1`));

  assert.match(demo.output(), /The service keeps running on the last config \(--keep-running\); Ctrl-C stops it\./);
  assert.equal(await listening(metricsUrl), true, 'its service still serves');
  // Ctrl-C stops the demo and its service.
  demo.signal('SIGINT');
  await demo.exited;
});
