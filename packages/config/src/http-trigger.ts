import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type MeterProvider, metrics } from '@opentelemetry/api';
import {
  ATTR_AUTH_FAILURE_REASON,
  AUTH_FAILURE_REASONS,
  type AuthFailureReason,
  createInstrument,
  guardListener,
  LISTENER_SERVER_OPTIONS,
  METRICS,
  type ReloadResult,
  requestPath,
} from '@reloadscope/core';
import { AuthThrottle, type AuthThrottleOptions, type FailureBurst } from './auth-throttle.ts';
import { type DiagnosticSink, diagnosticSink } from './diagnostics.ts';
import { checkHandlerOptions, checkListenerOptions, checkTarget } from './http-options.ts';
import { Options } from './options.ts';

/** Anything that can reload on request: a ConfigWatcher, or your own wrapper around core. */
export interface Reloadable {
  reload(options: { trigger: 'http' }): Promise<ReloadResult>;
}

export interface ReloadHandlerOptions {
  /** Required bearer token (`Authorization: Bearer <token>`), compared in constant time. */
  token: string;
  /** Token bucket: `burst` requests at once, refilled at `perSecond`. Default 5 and 1. */
  rateLimit?: { burst?: number; perSecond?: number };
  /** Per-client refusal after repeated failed authentications. Default 5 failures per 60 s. */
  authThrottle?: AuthThrottleOptions;
  /** Where `hotreload.http.auth_failures` is recorded. Default: the global MeterProvider at creation. */
  meterProvider?: MeterProvider;
  /** Receives one `auth_throttled` line per burst of failures. Default: the OpenTelemetry diag logger. */
  onDiagnostic?: DiagnosticSink;
}

export interface ReloadListenerOptions extends ReloadHandlerOptions {
  /** Default 0 (an ephemeral port; read it from `port`). */
  port?: number;
  /** Default 127.0.0.1: a reload endpoint is an admin interface and stays local unless you say so. */
  host?: string;
  /** Default `/reload`; other paths get 404. */
  path?: string;
  /**
   * Concurrent connections. Beyond this a new one replaces the oldest connection still waiting
   * for a request (a silent client), or is closed when all are busy with requests. Default 16.
   */
  maxConnections?: number;
}

export interface ReloadListener {
  readonly port: number;
  readonly host: string;
  readonly url: string;
  close(): Promise<void>;
}

/** What the endpoint answers: the result's facts, never config content. */
export function resultSummary(result: ReloadResult): Record<string, unknown> {
  return {
    target: result.target,
    trigger: result.trigger,
    outcome: result.outcome,
    stage: result.stage ?? null,
    durationMs: result.durationMs,
    hash: result.hash ?? null,
    version: result.version ?? null,
    generation: result.generation,
    candidateHash: result.candidateHash ?? null,
    coalesced: result.coalesced,
    error: result.error ? { code: result.error.code, message: result.error.message, stage: result.error.stage ?? null } : null,
    traceId: result.traceId ?? null,
  };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

function tokenBucket(burst: number, perSecond: number): () => boolean {
  let tokens = burst;
  let last = Date.now();
  return () => {
    const now = Date.now();
    tokens = Math.min(burst, tokens + ((now - last) / 1000) * perSecond);
    last = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };
}

/** Never throws: a response already sent (or a socket already gone) makes it a no-op. */
function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/** The endpoint reads no body; this much is drained for keep-alive, more closes the connection. */
const MAX_BODY_BYTES = 64 * 1024;

/** Drains the body without keeping it; false (413 sent) when it declares more than the cap. */
function drainCapped(req: IncomingMessage, res: ServerResponse): boolean {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (!(declared <= MAX_BODY_BYTES)) {
    closeWith(req, res, 413, 'content_too_large');
    return false;
  }
  let seen = 0;
  const count = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen <= MAX_BODY_BYTES) return;
    req.off('data', count);
    req.pause(); // stop reading, so the 413 is flushed before the connection closes
    closeWith(req, res, 413, 'content_too_large');
  };
  req.on('data', count);
  req.resume();
  return true;
}

/** Answer (if nothing was yet) and end the connection rather than read what the client still sends. */
function closeWith(req: IncomingMessage, res: ServerResponse, status: number, error: string): void {
  if (res.headersSent) {
    req.destroy();
    return;
  }
  send(res, status, { error }, { connection: 'close' });
}

/** The credentials of a request, checked: undefined when they carry the token. */
function authFailure(header: string | undefined, expected: Buffer): AuthFailureReason | undefined {
  if (header === undefined) return 'missing';
  // RFC 9110 §11.1: the scheme is case-insensitive; a single token68 follows it.
  const match = /^[ \t]*bearer +([^ \t]+)[ \t]*$/i.exec(header);
  if (!match) return 'malformed';
  return timingSafeEqual(digest(match[1]!), expected) ? undefined : 'wrong';
}

/**
 * A `(req, res)` handler for your own `node:http` server (or anything passing Node's req/res):
 * POST only, bearer token, rate-limited, answers with the reload result summary. The promise it
 * returns never rejects, whatever the request.
 */
export function createReloadHandler(
  target: Reloadable,
  options: ReloadHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  checkTarget('createReloadHandler', target);
  const { token, burst, perSecond, authFailures, authWindowSeconds } = checkHandlerOptions(Options.of('createReloadHandler', options));
  // Hashing both sides gives equal lengths, so timingSafeEqual never leaks the token length.
  const expected = digest(token);
  const allow = tokenBucket(burst, perSecond);
  const report = diagnosticSink(options.onDiagnostic);
  const throttle = new AuthThrottle({ failures: authFailures, windowSeconds: authWindowSeconds }, (burst) => report(burstDiagnostic(burst)));
  const failures = createInstrument(
    (options.meterProvider ?? metrics.getMeterProvider()).getMeter(METER_NAME),
    METRICS.httpAuthFailures,
  );
  // Each reason exists at 0 from the start, so increase() sees the first failure of each.
  for (const reason of AUTH_FAILURE_REASONS) failures.add(0, { [ATTR_AUTH_FAILURE_REASON]: reason });
  const refuse = (reason: AuthFailureReason) => failures.add(1, { [ATTR_AUTH_FAILURE_REASON]: reason });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!drainCapped(req, res)) return;
    if (req.method !== 'POST') return send(res, 405, { error: 'method_not_allowed' }, { allow: 'POST' });
    const client = req.socket.remoteAddress ?? 'unknown';
    const wait = throttle.retryAfter(client);
    if (wait > 0) {
      refuse('throttled');
      return send(res, 429, { error: 'too_many_failures' }, { 'retry-after': String(wait) });
    }
    const failure = authFailure(req.headers.authorization, expected);
    if (failure) {
      refuse(failure);
      throttle.failed(client);
      return send(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' });
    }
    throttle.succeeded(client);
    if (!allow()) return send(res, 429, { error: 'rate_limited' }, { 'retry-after': '1' });
    try {
      const result = await target.reload({ trigger: 'http' });
      send(res, 200, resultSummary(result));
    } catch {
      send(res, 500, { error: 'reload_error' });
    }
  }

  return (req, res) =>
    handle(req, res).catch(() => {
      // A defect here must cost one request, never the process (an unhandled rejection ends it).
      if (res.headersSent) res.destroy();
      else send(res, 500, { error: 'internal_error' });
    });
}

const METER_NAME = '@reloadscope/config';

function burstDiagnostic({ client, failures, windowSeconds }: FailureBurst) {
  const who = client === undefined ? 'clients beyond the tracked addresses (sharing one budget)' : client;
  return {
    code: 'auth_throttled' as const,
    message: `HTTP reload trigger: ${failures} failed authentications from ${who} within ${windowSeconds} s; refusing it with 429 for ${windowSeconds} s`,
  };
}

/** A small standalone listener serving only the reload endpoint. */
export async function listenForReloads(target: Reloadable, options: ReloadListenerOptions): Promise<ReloadListener> {
  checkTarget('listenForReloads', target);
  const { port, host, path, maxConnections } = checkListenerOptions(Options.of('listenForReloads', options));
  const handler = createReloadHandler(target, options);
  const report = diagnosticSink(options.onDiagnostic);
  // Slow-loris bounds (headers within 10 s, the whole request within 30 s, silent clients
  // replaced by real ones when the slots are full): core's guardListener, as for every listener.
  const server: Server = createServer(LISTENER_SERVER_OPTIONS, (req, res) => {
    const requested = requestPath(req.url);
    if (requested === path) return void handler(req, res);
    // Unrouted requests get no keep-alive: nothing of a body they may still send is read.
    if (requested === undefined) send(res, 400, { error: 'bad_request_target' }, { connection: 'close' });
    else send(res, 404, { error: 'not_found' }, { connection: 'close' });
  });
  guardListener(server, maxConnections);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // exclusive: in a cluster worker a shared listen would be one round-robin handle for every
    // worker, and a reload request would reload whichever worker it happened to reach.
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // After listening, the server emits accept failures (EMFILE…) and keeps accepting; with no
  // listener such an 'error' event would be thrown and end the process.
  const said = new Set<string>(); // once per kind: a persisting EMFILE would otherwise flood the sink
  server.on('error', (err: NodeJS.ErrnoException) => {
    const kind = err.code ?? err.name;
    if (said.has(kind)) return;
    said.add(kind);
    report({ code: 'http_error', message: `HTTP reload trigger: ${kind} while accepting a connection; still listening` });
  });
  server.unref();
  const address = server.address() as AddressInfo;
  const urlHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    port: address.port,
    host: address.address,
    url: `http://${urlHost}:${address.port}${path}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

