/**
 * No credential in any line reloadscope writes. Each way a user runs it — an app under
 * `--import @reloadscope/register`, `npm start` (config-service), the `reloadscope-cluster` CLI and
 * `npm run reloads` — starts with a marker secret in every credential-bearing variable and option it
 * reads: the userinfo and query of every OTLP endpoint, the OTLP headers of every signal, the HTTP
 * triggers' tokens, a config's upstream URL, Jaeger's URL. Each is then made to print what it prints
 * when things go wrong (an unreachable or refusing Collector, malformed variables, debug logging, a
 * failed reload, a wrong token, the exit), and every line of its stdout and stderr is searched for the
 * marker, raw and in the Basic-auth form an HTTP client derives from userinfo. So are the spans it
 * exported, its scrape and the answers of its HTTP triggers. `npm run stack` is covered in
 * test/e2e/stack.test.ts, `npm run demo` in demo.test.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { type TestContext, test } from 'node:test';
import { promisify } from 'node:util';
import { activate, writeApp } from '../../packages/cluster/test/harness.ts';
import { freePort } from '../../packages/register/test/helpers.ts';
import { type Child, eventually, start } from './child.ts';

const root = resolve(import.meta.dirname, '../..');
const FIXTURES = join(root, 'packages/register/test/fixtures');
const CLI = join(root, 'packages/cluster/src/cli.ts');
const RELOADS = join(root, 'scripts/reloads.ts');
const run = promisify(execFile);

/** Unique per run, so nothing else on the machine can print it. */
const MARKER = `mk${randomBytes(6).toString('hex')}`;
const USER = 'otlp-user';

/** Every form in which the marker could be printed: raw, and the Basic credentials of USER:MARKER. */
const FORBIDDEN = [MARKER, Buffer.from(`${USER}:${MARKER}`).toString('base64'), Buffer.from(`${USER}:${MARKER}`).toString('base64url')];

function assertNoMarker(what: string, text: string): void {
  const leaks = text.split('\n').filter((line) => FORBIDDEN.some((f) => line.includes(f)));
  assert.deepEqual(leaks, [], `${what} printed a credential`);
}

/** Every OTEL_* variable that carries a credential, each with the marker in it. */
function otlpCredentials(endpoint: string): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer%20${MARKER},x-broken=%zz${MARKER}`,
    OTEL_EXPORTER_OTLP_TRACES_HEADERS: `x-api-key=${MARKER}`,
    OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `http://${USER}:${MARKER}@127.0.0.1:9/v1/metrics?token=${MARKER}`,
    OTEL_EXPORTER_OTLP_METRICS_HEADERS: `authorization=${MARKER}`,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: `http://${USER}:${MARKER}@127.0.0.1:9/v1/logs`,
    OTEL_EXPORTER_OTLP_LOGS_HEADERS: `authorization=${MARKER}`,
  };
}

/** Env for a child with no inherited OTEL_* or RELOADSCOPE_* settings: the test sets each one. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith('OTEL_') && !k.startsWith('RELOADSCOPE_') && k !== 'NODE_OPTIONS' && k !== 'JAEGER_QUERY_URL') env[k] = v;
  }
  return { ...env, ...extra };
}

/** Runs `node --import @reloadscope/register <fixture>` to its end; every line it wrote. */
async function registerApp(t: TestContext, fixture: string, env: Record<string, string>): Promise<Child> {
  const app = start(t, process.execPath, ['--import', '@reloadscope/register', join(FIXTURES, fixture)], { cwd: root, env: cleanEnv(env) });
  return app;
}

/** An HTTP server for the test's stand-ins (a Collector, a Jaeger); closed when the test ends. */
async function serve(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<string> {
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += chunk;
    handler(req, res, body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.after(() => new Promise<void>((ok) => server.close(() => ok())));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('register: an unreachable Collector, malformed headers, debug logging and the exit print no credential', { timeout: 60_000 }, async (t) => {
  const closed = await freePort();
  const app = await registerApp(t, 'exit-app.mjs', {
    ...otlpCredentials(`http://${USER}:${MARKER}@127.0.0.1:${closed}/base?token=${MARKER}`),
    OTEL_LOG_LEVEL: 'debug',
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
    OTEL_EXPORTER_PROMETHEUS_PORT: '0',
    EXIT_PATH: 'finish',
    // Exports fail while it runs, and again when it ends.
    EXIT_AFTER_MS: '1500',
  });
  const { code } = await app.exited;
  assert.equal(code, 0, app.output());
  const out = app.output();
  // Said, and said where: the endpoint without its userinfo and query values.
  assert.match(out, new RegExp(`cannot export traces to http://\\*\\*\\*@127\\.0\\.0\\.1:${closed}/base/v1/traces\\?token=\\*\\*\\*`));
  assert.match(out, /OTEL_EXPORTER_OTLP_HEADERS: skipped 1 malformed pair \(pair 2, key "x-broken"/);
  assertNoMarker('an app under --import', out);
});

test('register: an endpoint refused as a URL is named without its credentials', { timeout: 60_000 }, async (t) => {
  for (const [variable, endpoint] of [
    ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', `ftp://${USER}:${MARKER}@collector/v1/traces?token=${MARKER}`],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', `${USER}:${MARKER}@collector:4318`],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', `http://${USER}:${MARKER}@[collector:4318`],
  ] as const) {
    const app = await registerApp(t, 'exit-app.mjs', {
      [variable]: endpoint,
      OTEL_LOG_LEVEL: 'debug',
      OTEL_EXPORTER_OTLP_TIMEOUT: '500',
      OTEL_EXPORTER_PROMETHEUS_PORT: '0',
      EXIT_PATH: 'finish',
    });
    await app.exited;
    const out = app.output();
    assert.match(out, /is not an http\(s\) URL; using http:\/\/localhost:4318\/v1\/traces/, out);
    assertNoMarker(`${variable}=${endpoint}`, out);
  }
});

test('register: exported spans, the scrape and the lines of a Collector that refuses, then accepts, carry no credential', { timeout: 60_000 }, async (t) => {
  const bodies: string[] = [];
  let refusals = 1;
  // A verbose Collector: its refusal echoes the credentials it was sent.
  const collector = await serve(t, (req, res, body) => {
    if (refusals-- > 0) {
      res.writeHead(401, { 'content-type': 'text/plain' });
      return void res.end(`bad credentials: ${req.headers.authorization} ${req.headers['x-api-key']}`);
    }
    bodies.push(body);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
  const app = await registerApp(t, 'app.mjs', {
    ...otlpCredentials(`http://${USER}:${MARKER}@${collector}?token=${MARKER}`),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://${USER}:${MARKER}@${collector}/v1/traces?token=${MARKER}`,
    OTEL_BSP_SCHEDULE_DELAY: '100',
    OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
    OTEL_EXPORTER_PROMETHEUS_PORT: '0',
  });
  const ready = JSON.parse((await app.waitFor(/^\{"ready":true.*\}$/))[0]) as { port: number; metricsUrl: string };
  const base = `http://127.0.0.1:${ready.port}`;
  const answers: string[] = [];
  for (const kind of ['clean', 'fail', 'clean']) {
    answers.push(await (await fetch(`${base}/reload?kind=${kind}`, { method: 'POST' })).text());
    await (await fetch(`${base}/flush`, { method: 'POST' })).text();
  }
  await eventually(() => bodies.length > 0, 'an accepted export');
  await app.waitFor(/trace export to .* works again/);
  const scrape = await (await fetch(ready.metricsUrl)).text();
  app.signal('SIGTERM');
  await app.exited;
  const out = app.output();
  assert.match(out, /cannot export traces to http:\/\/\*\*\*@127\.0\.0\.1:\d+\/v1\/traces\?token=\*\*\* \(/);
  assert.match(bodies.join('\n'), /hotreload/, 'the spans were exported');
  assertNoMarker('the exported spans', bodies.join('\n'));
  assertNoMarker('the scrape', scrape);
  assertNoMarker('the reload answers', answers.join('\n'));
  assertNoMarker('the app', out);
});

test('npm start (config-service): a reload to an upstream with credentials, wrong and right tokens, the exit', { timeout: 90_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'reloadscope-credentials-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const closed = await freePort();
  const configPath = join(dir, 'config.yaml');
  const config = 'greeting: Hello\nrateLimit:\n  requestsPerMinute: 600\nserver:\n  port: 3000\n';
  await writeFile(configPath, config);
  const service = start(t, 'npm', ['start'], {
    cwd: root,
    env: cleanEnv({
      ...otlpCredentials(`http://${USER}:${MARKER}@127.0.0.1:${closed}`),
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_EXPORTER_PROMETHEUS_PORT: '0',
      CONFIG_PATH: configPath,
      PORT: '0',
      RELOAD_TOKEN: MARKER,
      RELOAD_TIMEOUT_MS: '2000',
    }),
  });
  const url = (await service.waitFor(/config-service listening on (http:\S+)/))[1]!;
  const from = service.lines.length;
  await writeFile(configPath, `${config}upstream:\n  url: http://${USER}:${MARKER}@127.0.0.1:${closed}/healthz?token=${MARKER}\n`);
  await service.waitFor(/^reload app-config: (?!success|unchanged)\w+ \(file\)/, { from });
  const wrong = await fetch(`${url}-/reload`, { method: 'POST', headers: { authorization: `Bearer ${MARKER}x` } });
  const right = await fetch(`${url}-/reload`, { method: 'POST', headers: { authorization: `Bearer ${MARKER}` } });
  assert.equal(wrong.status, 401);
  assert.equal(right.status, 200);
  const answers = `${await wrong.text()}\n${await right.text()}`;
  await service.waitFor(/cannot export traces to http:\/\/\*\*\*@127\.0\.0\.1:\d+\/v1\/traces/);
  service.signal('SIGTERM');
  await service.exited;
  assertNoMarker('the HTTP trigger', answers);
  assertNoMarker('npm start', service.output());
});

test('reloadscope-cluster: the CLI, its workers and its HTTP trigger print no credential, and the app never gets the token', { timeout: 90_000 }, async (t) => {
  const releases = await mkdtemp(join(tmpdir(), 'reloadscope-credentials-cluster-'));
  t.after(() => rm(releases, { recursive: true, force: true }));
  const app = `import http from 'node:http';
http.createServer((req, res) => res.end(process.env.RELOADSCOPE_CLUSTER_HTTP_TOKEN === undefined ? 'no token' : 'token')).listen(Number(process.env.PORT), '127.0.0.1');
`;
  await writeApp(releases, 'a', app);
  await activate(releases, 'a');
  const [port, closed, triggerPort] = [await freePort(), await freePort(), await freePort()];
  const cli = start(t, process.execPath, [CLI, '--release', join(releases, 'current'), '--entry', 'server.mjs', '--workers', '1'], {
    cwd: root,
    env: cleanEnv({
      ...otlpCredentials(`http://${USER}:${MARKER}@127.0.0.1:${closed}?token=${MARKER}`),
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_EXPORTER_OTLP_TIMEOUT: '1000',
      OTEL_EXPORTER_PROMETHEUS_HOST: '127.0.0.1',
      OTEL_EXPORTER_PROMETHEUS_PORT: String(await freePort()),
      RELOADSCOPE_CLUSTER_HTTP_TOKEN: MARKER,
      RELOADSCOPE_CLUSTER_HTTP_PORT: String(triggerPort),
      PORT: String(port),
    }),
  });
  const trigger = (await cli.waitFor(/POST (http:\S+) upgrades/, { timeoutMs: 60_000 }))[1]!;
  assert.equal(await (await fetch(`http://127.0.0.1:${port}/`)).text(), 'no token', 'a worker runs application code: it never sees the admin token');
  const wrong = await fetch(trigger, { method: 'POST', headers: { authorization: `Bearer ${MARKER}x` } });
  const right = await fetch(trigger, { method: 'POST', headers: { authorization: `Bearer ${MARKER}` } });
  assert.equal(wrong.status, 401);
  assert.equal(right.status, 200);
  const answers = `${await wrong.text()}\n${await right.text()}`;
  await cli.waitFor(/cannot export traces to http:\/\/\*\*\*@127\.0\.0\.1:\d+\/v1\/traces\?token=\*\*\*/, { timeoutMs: 30_000 });
  cli.signal('SIGTERM');
  await cli.exited;
  assertNoMarker('the HTTP trigger', answers);
  assertNoMarker('reloadscope-cluster', cli.output());
});

test('npm run reloads: Jaeger behind userinfo is reached with it and named without it, failing or not', { timeout: 60_000 }, async (t) => {
  const closed = await freePort();
  const authorized = (req: IncomingMessage) => req.headers.authorization === `Basic ${Buffer.from(`${USER}:${MARKER}`).toString('base64')}`;
  let status = 500;
  const jaeger = await serve(t, (req, res) => {
    if (!authorized(req)) return void res.writeHead(401).end('who are you?');
    res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 404 ? 'trace not found' : `boom for ${req.headers.authorization}`);
  });
  const reloads = async (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, [RELOADS, ...args], { cwd: root, env: cleanEnv(env) }).then(
      ({ stdout, stderr }) => ({ code: 0, out: stdout + stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );

  const unreachable = await reloads(['--jaeger', `http://${USER}:${MARKER}@127.0.0.1:${closed}/?token=${MARKER}`]);
  assert.equal(unreachable.code, 2, unreachable.out);
  assert.match(unreachable.out, new RegExp(`cannot reach Jaeger's query API at http://\\*\\*\\*@127\\.0\\.0\\.1:${closed}/\\?token=\\*\\*\\* \\(ECONNREFUSED\\)`));
  const failing = await reloads([], { JAEGER_QUERY_URL: `http://${USER}:${MARKER}@${jaeger}` });
  assert.equal(failing.code, 2, failing.out);
  assert.match(failing.out, /Jaeger answered 500 to GET http:\/\/\*\*\*@127\.0\.0\.1:\d+\/api\/v3\/traces\?/);
  status = 404;
  const empty = await reloads(['--jaeger', `http://${USER}:${MARKER}@${jaeger}`]);
  assert.equal(empty.code, 0, empty.out);
  assert.match(empty.out, /no hot reloads of service config-service in Jaeger \(http:\/\/\*\*\*@127\.0\.0\.1:\d+\)/);
  const malformed = await reloads(['--jaeger', `http://${USER}:${MARKER}@[127.0.0.1`]);
  assert.equal(malformed.code, 1, malformed.out);
  assert.match(malformed.out, /^reloads: --jaeger must be an http\(s\) URL, got http:\/\/\*\*\*@\[127\.0\.0\.1\n$/);
  for (const r of [unreachable, failing, empty, malformed]) assertNoMarker('npm run reloads', r.out);
});
