import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ReloadResult } from '@reloadscope/core';
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
}

export interface ReloadListenerOptions extends ReloadHandlerOptions {
  /** Default 0 (an ephemeral port; read it from `port`). */
  port?: number;
  /** Default 127.0.0.1: a reload endpoint is an admin interface and stays local unless you say so. */
  host?: string;
  /** Default `/reload`; other paths get 404. */
  path?: string;
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

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/**
 * A `(req, res)` handler for your own `node:http` server (or anything passing Node's req/res):
 * POST only, bearer token, rate-limited, answers with the reload result summary.
 */
export function createReloadHandler(
  target: Reloadable,
  options: ReloadHandlerOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  checkTarget('createReloadHandler', target);
  const { token, burst, perSecond } = checkHandlerOptions(Options.of('createReloadHandler', options));
  // Hashing both sides gives equal lengths, so timingSafeEqual never leaks the token length.
  const expected = digest(token);
  const allow = tokenBucket(burst, perSecond);
  return async (req, res) => {
    req.resume(); // the body is never used; drain it so the connection can be reused
    if (req.method !== 'POST') return send(res, 405, { error: 'method_not_allowed' }, { allow: 'POST' });
    const auth = req.headers.authorization ?? '';
    const presented = auth.startsWith('Bearer ') ? auth.slice(7) : '';
    if (!presented || !timingSafeEqual(digest(presented), expected)) {
      return send(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' });
    }
    if (!allow()) return send(res, 429, { error: 'rate_limited' }, { 'retry-after': '1' });
    try {
      const result = await target.reload({ trigger: 'http' });
      send(res, 200, resultSummary(result));
    } catch {
      send(res, 500, { error: 'reload_error' });
    }
  };
}

/** A small standalone listener serving only the reload endpoint. */
export async function listenForReloads(target: Reloadable, options: ReloadListenerOptions): Promise<ReloadListener> {
  checkTarget('listenForReloads', target);
  const { port, host, path } = checkListenerOptions(Options.of('listenForReloads', options));
  const handler = createReloadHandler(target, options);
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== path) {
      req.resume();
      send(res, 404, { error: 'not_found' });
      return;
    }
    void handler(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
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
