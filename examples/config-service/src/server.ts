/**
 * config-service: a small HTTP service whose answer depends on a hot-reloaded YAML config.
 * Start it with `node --import @reloadscope/register src/server.ts` (that is `npm start`): the
 * --import boots OpenTelemetry before this file runs, so the reload instrument already has its
 * meter and tracer when the first config load happens.
 *
 * Environment: CONFIG_PATH (default ../config.yaml), PORT (default: server.port from the config),
 * HOST (default: all interfaces), RELOAD_TOKEN (enables POST /-/reload), RELOAD_TIMEOUT_MS (default 3000),
 * TLS_CERT + TLS_KEY (serve HTTPS from these PEM files, hot-reloaded; TLS_CA optionally checks the chain),
 * plus the OTEL_* variables that @reloadscope/register reads.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { resolve } from 'node:path';
import { createReloadHandler, watchConfig, watchTls } from '@reloadscope/config';
import { logReloads, ReloadError } from '@reloadscope/core';
import { getReloadInstrumentation, getReloadscope, readEnv } from '@reloadscope/register';
import { ConfigSchema } from './config-schema.ts';
import { minuteWindow } from './rate-limit.ts';
import { checkUpstream } from './upstream-check.ts';

const env = process.env;
const reloads = getReloadInstrumentation();
// Subscribe before the first load so that the startup load gets its line too.
logReloads(reloads);

// The first load is strict: a service should not start on a missing or invalid config.
const config = await watchConfig({
  path: env.CONFIG_PATH ?? resolve(import.meta.dirname, '../config.yaml'),
  schema: ConfigSchema,
  instrumentation: reloads,
  target: 'app-config',
  timeoutMs: Number(env.RELOAD_TIMEOUT_MS ?? 3000),
}).catch((err: { code?: string; message?: string }) => {
  console.error(`config-service: cannot start: ${err.code ?? 'error'}: ${err.message}`);
  process.exit(1);
});

// onChange subscribers run in the switch stage; throwing rolls the switch back for everyone, so
// they are the place for "valid YAML, but this process cannot apply it".
const startupPort = config.current.server.port;
config.onChange((next) => {
  // A ReloadError's code reaches the span's error.type and the reload line: `restart_required`.
  if (next.server.port !== startupPort) throw new ReloadError('restart_required', 'server.port cannot change while running; restart to apply it');
});

// Only switch to an upstream that answers. Compared with the upstream in use (not with the
// previous config) so that a rollback, which calls subscribers with the old config, is a no-op.
let upstreamInUse = config.current.upstream?.url;
config.onChange(async (next, _previous, { signal }) => {
  const url = next.upstream?.url;
  if (url !== undefined && url !== upstreamInUse) await checkUpstream(url, signal);
  upstreamInUse = url;
});

const allow = minuteWindow(() => config.current.rateLimit.requestsPerMinute);
// The HTTP trigger is an admin interface: off unless a token is configured, loopback only.
const reloadHandler = env.RELOAD_TOKEN ? createReloadHandler(config, { token: env.RELOAD_TOKEN }) : undefined;
const isLoopback = (address = '') => address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(`${JSON.stringify(body)}\n`);
}

function handle(req: IncomingMessage, res: ServerResponse) {
  // URL.parse, not new URL: a request-target like `//` or `http://[` makes the constructor throw.
  const url = URL.parse(req.url ?? '/', 'http://localhost');
  if (!url) return send(res, 400, { error: 'bad_request_target' });
  if (url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
  if (url.pathname === '/-/reload' && reloadHandler && isLoopback(req.socket.remoteAddress)) return void reloadHandler(req, res);
  if (url.pathname !== '/') return send(res, 404, { error: 'not_found' });
  if (!allow()) return send(res, 429, { error: 'rate_limited' });
  // One snapshot per request: a reload in the middle of it never mixes two versions.
  const { greeting, features } = config.current;
  const message = `${greeting}, ${url.searchParams.get('name') ?? 'world'}!`;
  send(res, 200, { message: features.shout ? message.toUpperCase() : message, config: config.hash.slice(0, 12) });
}

// HTTPS when a certificate is given: watchTls loads it (strictly, like the config) before the
// server listens, and swaps it in place when the files change, on SIGHUP too.
const tlsFiles = env.TLS_CERT && env.TLS_KEY ? { cert: env.TLS_CERT, key: env.TLS_KEY, ca: env.TLS_CA } : undefined;
const server = tlsFiles ? createHttpsServer(handle) : createServer(handle);
if (tlsFiles && 'setSecureContext' in server) {
  await watchTls({ server, ...tlsFiles, instrumentation: reloads, target: 'tls' }).catch((err: { code?: string; message?: string }) => {
    console.error(`config-service: cannot start: ${err.code ?? 'error'}: ${err.message}`);
    process.exit(1);
  });
}

/** Where the metrics are, or why they are not served: a message above is named only when one was printed. */
async function metricsLine(): Promise<string> {
  const telemetry = getReloadscope();
  const url = await telemetry?.metricsUrl();
  if (url) return url;
  const settings = readEnv(env);
  if (telemetry?.metrics === 'reused') return "not served here: the application's own MeterProvider exports them";
  if (settings.disabled) return 'not served: OTEL_SDK_DISABLED=true';
  if (telemetry?.metrics === 'started' && !settings.metrics.includes('prometheus')) return 'not served: OTEL_METRICS_EXPORTER does not include prometheus';
  return 'not served (see the [reloadscope] message above)';
}

const port = env.PORT === undefined ? startupPort : Number(env.PORT);
server.listen(port, env.HOST, async () => {
  const address = server.address();
  const scheme = tlsFiles ? 'https' : 'http';
  // The address it listens on: `localhost` only when it listens on every interface.
  const host = !env.HOST || env.HOST === '0.0.0.0' || env.HOST === '::' ? 'localhost' : env.HOST.includes(':') ? `[${env.HOST}]` : env.HOST;
  const listening = typeof address === 'object' && address ? `${scheme}://${host}:${address.port}/` : String(address);
  console.log(`config-service listening on ${listening}`);
  console.log(`  config:  ${config.file} (edit it, or send SIGHUP to pid ${process.pid})`);
  if (tlsFiles) console.log(`  tls:     ${tlsFiles.cert} (replace it and its key; the new certificate is served without a restart)`);
  console.log(`  metrics: ${await metricsLine()}`);
  console.log(`  reload:  ${reloadHandler ? `POST ${listening}-/reload with "Authorization: Bearer $RELOAD_TOKEN"` : 'HTTP trigger off (set RELOAD_TOKEN to enable it)'}`);
});
