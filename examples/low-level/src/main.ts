/**
 * The low-level reloadscope API around existing reload code (./rules.ts). Use it when your
 * reload does not fit `reloads.reload({ load, verify, switch, unload })`: you keep your code and
 * control flow, and mark its steps as stages.
 *
 *   node --import @reloadscope/register src/main.ts      (npm start)
 *   edit rules.json, then: kill -HUP <pid>                 (or POST /reload)
 *
 * Environment: RULES_PATH (default ../rules.json), PORT (default 3002), plus OTEL_* for register.
 */
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { type ReloadResult, type ReloadTrigger, sha256Hex } from '@reloadscope/core';
import { getReloadInstrumentation, getReloadscope } from '@reloadscope/register';
import { activeRules, compileRules, readRules, swapRules } from './rules.ts';

const RULES_PATH = process.env.RULES_PATH ?? resolve(import.meta.dirname, '../rules.json');
const reloads = getReloadInstrumentation();

async function reloadRules(trigger: ReloadTrigger): Promise<ReloadResult> {
  const run = reloads.start({ target: 'rules', trigger, timeoutMs: 2_000 });
  try {
    // Each stage is a span and a hotreload_stage_duration_seconds point; it rethrows what it throws.
    const text = await run.stage('load', (ctx) => readRules(RULES_PATH, ctx.signal));
    const hash = sha256Hex(text);
    // Identity only (hash, size): never the content, which can hold anything.
    run.candidate({ hash, size: Buffer.byteLength(text) });
    // SIGHUPs and editors fire without a change; report that instead of swapping an equal set.
    if (hash === reloads.getActive('rules')?.hash) return run.end('unchanged');
    const next = await run.stage('verify', () => compileRules(text));
    const previous = await run.stage('switch', () => swapRules(next));
    // Lets @reloadscope/node (on by default in register) check the old set really gets collected.
    run.unloaded(previous);
    return run.end('success');
  } catch (err) {
    // The failed stage's span already holds the exception; the active rules were not touched.
    return run.fail(err);
  }
}

function report(r: ReloadResult): void {
  const what = r.outcome === 'success' ? `${activeRules().patterns.length} patterns active` : r.error ? `${r.error.code}: ${r.error.message}` : 'nothing to do';
  console.log(`rules: ${r.outcome} (${r.trigger}) · ${what} · hash ${r.hash?.slice(0, 12) ?? '-'} · gen ${r.generation}`);
}

// Listen before the first await: with no listener, SIGHUP kills the process.
process.on('SIGHUP', () => void reloadRules('signal').then(report));

const first = await reloadRules('startup');
report(first);
if (first.outcome !== 'success') process.exit(1);

const server = createServer((req, res) => {
  // URL.parse, not new URL: a request-target like `//` or `http://[` makes the constructor throw.
  const url = URL.parse(req.url ?? '/', 'http://localhost');
  if (!url) {
    res.writeHead(400).end();
    return;
  }
  if (req.method === 'POST' && url.pathname === '/reload') {
    // An admin trigger: bind this server to loopback (as below) or protect it before copying it.
    void reloadRules('http').then((r) => {
      report(r);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ outcome: r.outcome, hash: r.hash }));
    });
    return;
  }
  const text = url.searchParams.get('text') ?? '';
  const blocked = activeRules().patterns.some((p) => p.test(text));
  res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify({ blocked })}\n`);
});
server.listen(Number(process.env.PORT ?? 3002), '127.0.0.1', async () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  console.log(`low-level example on http://127.0.0.1:${port}/?text=... · pid ${process.pid} · metrics ${(await getReloadscope()?.metricsUrl()) ?? '-'}`);
});
