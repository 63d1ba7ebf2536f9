/**
 * Loaded into every worker with `--import` by the supervisor, before the app. It makes a plain
 * Node server drain without dropping anything, with no change to the app:
 *
 * - every server the app listens on is remembered and reported to the primary, and held until the
 *   worker's generation is switched in (worker-listeners.ts);
 * - on `drain` the servers stop listening through net.Server#close, NOT http.Server#close: the
 *   latter closes idle keep-alive sockets at once, racing a client about to reuse one (ECONNRESET);
 * - from then on every response carries `Connection: close`, and a socket is closed only after it
 *   has stayed idle for `idleCloseMs`;
 * - the worker exits only after the IPC channel is disconnected (the primary disconnects after our
 *   `draining` ack), so a connection the primary handed over meanwhile is still answered or handed back;
 * - signals sent to the whole process group and a closed stdout do not end it (worker-signals.ts).
 */
import cluster from 'node:cluster';
import { subscribe } from 'node:diagnostics_channel';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Server, type Socket } from 'node:net';
import { context, propagation, type Span, trace } from '@opentelemetry/api';
import { surviveClosedOutput } from './closed-output.ts';
import {
  ATTR_GENERATION_NUMBER,
  ATTR_WORKER_SLOT,
  DRAIN_HOOKS,
  ENV_GENERATION,
  ENV_HEALTH,
  ENV_HOLD,
  ENV_METRICS,
  ENV_SLOT,
  idleCloseOf,
  MESSAGE_KEY,
  messageOf,
  SPAN_WORKER_START,
} from './protocol.ts';
import { WorkerListeners } from './worker-listeners.ts';
import { holdWorkerSignals } from './worker-signals.ts';

const DRAIN_POLL_MS = 50;

interface SocketState {
  busy: number;
  idleSince: number;
}

const sockets = new Map<Socket, SocketState>();
const pending = new Set<ServerResponse>();
let draining = false;
let startSpan: Span | undefined;
const FLUSH_MS = 1000;

function send(message: Record<string, unknown>): void {
  if (typeof process.send !== 'function' || !process.connected) return;
  try {
    process.send({ ...message });
  } catch {
    // The channel closed under us: the supervisor no longer listens.
  }
}

function track(socket: Socket): void {
  if (sockets.has(socket)) return;
  sockets.set(socket, { busy: 0, idleSince: Date.now() });
  socket.once('close', () => sockets.delete(socket));
}

const listeners = new WorkerListeners({
  hold: process.env[ENV_HOLD] === '1',
  health: process.env[ENV_HEALTH] === '1',
  send,
  onConnection: track,
  onServiceListening: () => {
    startSpan?.end();
    startSpan = undefined;
  },
});

function install(): void {
  listeners.install();
  holdWorkerSignals();
  surviveClosedOutput();

  subscribe('http.server.request.start', (message) => {
    const { response, socket } = message as { request: IncomingMessage; response: ServerResponse; socket: Socket };
    track(socket);
    const state = sockets.get(socket);
    if (state) state.busy += 1;
    pending.add(response);
    if (draining) response.shouldKeepAlive = false;
    const done = () => {
      if (!pending.delete(response)) return;
      const s = sockets.get(socket);
      if (s) {
        s.busy = Math.max(0, s.busy - 1);
        s.idleSince = Date.now();
      }
    };
    response.once('finish', done);
    response.once('close', done);
  });

  process.on('message', (message: unknown) => {
    const kind = messageOf(message);
    if (kind === 'drain') void drain(idleCloseOf(message));
    else if (kind === 'serve') {
      listeners.serve();
      send({ [MESSAGE_KEY]: 'serving' });
    }
  });
}

async function runDrainHooks(): Promise<void> {
  const hooks = (globalThis as unknown as Record<symbol, Set<() => unknown> | undefined>)[DRAIN_HOOKS];
  if (!hooks) return;
  await Promise.allSettled([...hooks].map(async (hook) => hook()));
}

async function drain(idleCloseMs: number): Promise<void> {
  if (draining) return;
  draining = true;
  const since = Date.now();
  for (const server of listeners.servers) {
    // net's close: stop accepting (the primary takes this worker out of the round-robin) without
    // http's closeIdleConnections().
    if (server.listening) Server.prototype.close.call(server, () => {});
  }
  listeners.closeForwarders();
  for (const response of pending) if (!response.headersSent) response.shouldKeepAlive = false;
  send({ [MESSAGE_KEY]: 'draining' });
  await runDrainHooks();
  await flushTelemetry();
  const poll = setInterval(() => {
    const now = Date.now();
    for (const [socket, state] of sockets) {
      if (state.busy === 0 && now - Math.max(state.idleSince, since) >= idleCloseMs) socket.end();
    }
    // Exit only once the primary has disconnected us: the disconnect handshake answers (or hands
    // back) every connection it passed to this worker before our servers closed.
    if (sockets.size === 0 && !process.connected) {
      clearInterval(poll);
      process.exit(0);
    }
  }, DRAIN_POLL_MS);
}

type RegisterApi = typeof import('@reloadscope/register/api');
let registerApi: Promise<RegisterApi | undefined> | undefined;
const register = () => {
  registerApi ??= import('@reloadscope/register/api').catch(() => undefined);
  return registerApi;
};

/** Spans and metrics still queued in this worker, before it exits; bounded. */
async function flushTelemetry(): Promise<void> {
  if (process.env[ENV_METRICS] !== '1') return;
  const rs = (await register())?.getReloadscope();
  if (!rs) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([rs.forceFlush().catch(() => {}), new Promise((r) => (timer = setTimeout(r, FLUSH_MS)))]);
  clearTimeout(timer);
}

/**
 * The worker's start-up, from here (before the app's first line) to its first fixed-port listener,
 * as a child of the upgrade's load stage: the supervisor passes that span's context in
 * TRACEPARENT/TRACESTATE.
 */
function traceStartup(): void {
  const traceparent = process.env.TRACEPARENT;
  if (process.env[ENV_METRICS] !== '1' || !traceparent) return;
  const parent = propagation.extract(context.active(), { traceparent, tracestate: process.env.TRACESTATE ?? '' });
  startSpan = trace.getTracer('@reloadscope/cluster').startSpan(
    SPAN_WORKER_START,
    { attributes: { [ATTR_WORKER_SLOT]: Number(process.env[ENV_SLOT]), [ATTR_GENERATION_NUMBER]: Number(process.env[ENV_GENERATION]), 'process.pid': process.pid } },
    parent,
  );
}

/** Tell the primary where this worker's own register endpoint listens (private, ephemeral, loopback). */
async function reportMetricsUrl(): Promise<void> {
  if (process.env[ENV_METRICS] !== '1') return;
  try {
    const url = await (await register())?.getReloadscope()?.metricsUrl();
    if (url) send({ [MESSAGE_KEY]: 'metrics-url', url });
  } catch {
    // No worker telemetry: the instance's scrape shows the primary's alone.
  }
}

if (cluster.isWorker) {
  install();
  traceStartup();
  void reportMetricsUrl();
}
