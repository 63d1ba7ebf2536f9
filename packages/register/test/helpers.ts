import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect, createServer as createNetServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { type Sample, parsePrometheus } from '../../../test/support/prometheus.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

export interface AppInfo {
  ready: true;
  port: number;
  metricsUrl: string | null;
  traces: string;
  metrics: string;
}

export interface RunningApp {
  child: ChildProcess;
  info: AppInfo;
  base: string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Env for a child: no inherited OTEL_* settings, so the test decides every one of them. */
export function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('OTEL_') && !k.startsWith('RELOADSCOPE_') && k !== 'NODE_OPTIONS') env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * Start a fixture with `node <nodeArgs> fixtures/<file>` from the repo root (so that
 * `--import @reloadscope/register` resolves as it would for a user), wait for its ready line,
 * and kill it when the test ends.
 */
export async function startApp(
  t: TestContext,
  file: string,
  env: Record<string, string>,
  nodeArgs: string[] = ['--import', '@reloadscope/register'],
): Promise<RunningApp> {
  const child = spawn(process.execPath, [...nodeArgs, `${FIXTURES}${file}`], {
    cwd: REPO_ROOT,
    env: cleanEnv(env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  let out = '';
  const info = await new Promise<AppInfo>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`app did not become ready in 30 s; stderr:\n${err}`)), 30_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{"ready":true'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as AppInfo);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`app exited before ready (code ${code}, signal ${signal}); stderr:\n${err}`));
    });
  });
  return { child, info, base: `http://127.0.0.1:${info.port}`, stderr: () => err, exited };
}

export async function post(url: string): Promise<Record<string, unknown>> {
  const res = await fetch(url, { method: 'POST' });
  if (!res.ok) throw new Error(`POST ${url} -> ${res.status}: ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

export { type Sample, parsePrometheus };

export async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`scrape ${url} -> ${res.status}`);
  return parsePrometheus(await res.text());
}

/** The value of the one sample matching name and (a subset of) labels; undefined if none. */
export function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${hits.length} samples match ${name} ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}

export { eventually } from '../../../test/support/eventually.ts';

/** A port that was free a moment ago (for "nothing listens here" and "port is taken" cases). */
export async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

export interface OtlpRequest {
  path: string;
  contentType: string | undefined;
  body: unknown;
}

/** A tiny OTLP/HTTP receiver: records every export request (JSON or protobuf bytes) and answers 200. */
export async function startOtlpReceiver(t: TestContext): Promise<{ url: string; requests: OtlpRequest[]; server: Server }> {
  const requests: OtlpRequest[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const contentType = req.headers['content-type'];
    requests.push({ path: req.url ?? '', contentType, body: contentType?.includes('json') ? JSON.parse(raw.toString('utf8')) : raw });
    res.setHeader('content-type', 'application/json');
    res.end('{}');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, server };
}

/**
 * A Collector that accepts connections and never answers: every request hangs until the client
 * gives up. The sockets are held (not read to completion) and destroyed when the test ends.
 */
export async function startSilentCollector(t: TestContext): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((r) => server.close(() => r()));
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * A Collector that never accepts: a process listens with a backlog of 1 and then blocks its own
 * event loop, so the kernel queues the first connections and drops every later SYN; the test
 * fills the queue first, so the app's connect attempts hang (no RST, no answer) like a blackholed
 * host.
 */
export async function startUnacceptingCollector(t: TestContext): Promise<string> {
  const script =
    "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{" +
    "process.stdout.write(s.address().port+'\\n');const end=Date.now()+120000;while(Date.now()<end){}})";
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    child.kill('SIGKILL');
  });
  const [chunk] = (await once(child.stdout!, 'data')) as [Buffer];
  const port = Number(chunk.toString().trim());
  const fillers: Socket[] = [];
  t.after(() => {
    for (const s of fillers) s.destroy();
  });
  // Fill the accept queue: these complete the handshake in the kernel; the next SYNs are dropped.
  for (let i = 0; i < 4; i++) {
    const s = connect(port, '127.0.0.1');
    s.on('error', () => {});
    fillers.push(s);
  }
  await new Promise((r) => setTimeout(r, 200));
  return `http://127.0.0.1:${port}`;
}
