/**
 * `npm run reloads`: the last hot reloads of a service as Jaeger has them, in the terminal, for a
 * server without a browser (the source-built Jaeger has no UI). One line per run, a waterfall of its
 * stages under it. Colour only when stdout is a terminal (and NO_COLOR is unset).
 *
 *   npm run reloads -- [--jaeger URL] [--service NAME] [--limit N] [--since 1h]
 *
 * Exit codes: 0 (also when there is nothing to show), 1 bad arguments, 2 Jaeger unreachable or failing.
 */
import { parseArgs, styleText } from 'node:util';
import { redactUrl } from '@reloadscope/core';
import { fetchReloadTraces, JaegerQueryError, JaegerUnreachableError } from './reload-traces.ts';
import { renderWaterfall } from './reload-waterfall.ts';

const USAGE = `usage: npm run reloads -- [--jaeger URL] [--service NAME] [--limit N] [--since DURATION]
  --jaeger   Jaeger's query API (default: $JAEGER_QUERY_URL or http://127.0.0.1:16686); user:password@ in it
             is sent as Basic credentials and never printed
  --service  service.name of the app (default: $OTEL_SERVICE_NAME or config-service)
  --limit    how many of the newest reloads (1-100, default 10)
  --since    how far back, e.g. 90s, 15m, 2h, 1d (default 1h)`;

function fail(message: string, code: number): never {
  console.error(`reloads: ${message}`);
  process.exit(code);
}

function durationMs(text: string): number | undefined {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  return m ? Number(m[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'] : undefined;
}

let args: ReturnType<typeof parse>;
function parse() {
  return parseArgs({
    options: {
      jaeger: { type: 'string', default: process.env.JAEGER_QUERY_URL ?? 'http://127.0.0.1:16686' },
      service: { type: 'string', default: process.env.OTEL_SERVICE_NAME ?? 'config-service' },
      limit: { type: 'string', default: '10' },
      since: { type: 'string', default: '1h' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
}
try {
  args = parse();
} catch (err) {
  fail(`${(err as Error).message}\n${USAGE}`, 1);
}
if (args.help) {
  console.log(USAGE);
  process.exit(0);
}
const limit = Number(args.limit);
if (!Number.isInteger(limit) || limit < 1 || limit > 100) fail(`--limit must be an integer from 1 to 100, got ${args.limit}`, 1);
const since = durationMs(args.since);
if (since === undefined) fail(`--since must look like 90s, 15m, 2h or 1d, got ${args.since}`, 1);
if (!/^https?:\/\/[^/]/.test(args.jaeger) || !URL.canParse(args.jaeger)) fail(`--jaeger must be an http(s) URL, got ${redactUrl(args.jaeger)}`, 1);

const end = new Date();
try {
  const runs = await fetchReloadTraces(args.jaeger, { service: args.service, start: new Date(end.getTime() - since), end, limit });
  if (runs.length === 0) {
    console.log(`no hot reloads of service ${args.service} in Jaeger (${redactUrl(args.jaeger)}) in the last ${args.since}`);
  } else {
    console.log(renderWaterfall(runs, { style: (format, text) => styleText(format, text, { stream: process.stdout }) }));
  }
} catch (err) {
  if (err instanceof JaegerUnreachableError) fail(`${err.message}. Is the stack running (npm run stack)? Or pass --jaeger URL.`, 2);
  if (err instanceof JaegerQueryError) fail(err.message, 2);
  throw err;
}
