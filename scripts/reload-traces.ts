/**
 * Reads hot-reload traces back from Jaeger v2's query API (api_v3, OTLP JSON) and turns each
 * `hotreload` span with its stage children into one record. Used by the terminal view
 * (scripts/reloads.ts) and by `npm run stack` to print the query for the last reload's trace.
 *
 * The search endpoint needs a service, both ends of a start-time range and a result count. Checked
 * against Jaeger v2.13: without the time range it answers 400 ("query.start_time_min and
 * query.start_time_max are required"), without query.num_traces 500 ("search depth must be greater
 * than 0"), and 404 "No traces found" when nothing matches.
 *
 * What Jaeger returns is parsed defensively: a span with missing or malformed fields is skipped or
 * read as empty, never a crash of the view.
 */
import {
  ATTR_CONFIG_HASH,
  ATTR_ERROR_TYPE,
  ATTR_GENERATION,
  ATTR_OUTCOME,
  ATTR_STAGE,
  ATTR_TARGET,
  ATTR_TRIGGER,
  redactSecrets,
  redactUrl,
  SPAN_ROOT,
} from '@reloadscope/core';

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  status?: { code?: number | string };
  attributes?: Array<{ key: string; value: OtlpValue }>;
}
export interface OtlpTraces {
  result?: { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: OtlpSpan[] }> }> };
}

export interface StageSpan {
  stage: string;
  startNs: bigint;
  endNs: bigint;
  failed: boolean;
  errorType: string | undefined;
}

export interface ReloadTrace {
  traceId: string;
  startNs: bigint;
  endNs: bigint;
  target: string;
  trigger: string;
  outcome: string;
  errorType: string | undefined;
  generation: number | undefined;
  hash: string | undefined;
  /** In start order. */
  stages: StageSpan[];
}

export interface SearchOptions {
  service: string;
  /** Start of the time range; default: an hour before `end`. */
  start?: Date;
  /** End of the time range; default: now. */
  end?: Date;
  /** How many traces Jaeger returns at most. */
  limit?: number;
}

/** The search URL for a service's hotreload traces: every parameter Jaeger v2 requires. */
export function searchUrl(jaegerUrl: string, { service, end = new Date(), start, limit = 20 }: SearchOptions): string {
  const q = new URLSearchParams({
    'query.service_name': service,
    'query.operation_name': SPAN_ROOT,
    'query.start_time_min': (start ?? new Date(end.getTime() - 3_600_000)).toISOString(),
    'query.start_time_max': end.toISOString(),
    'query.num_traces': String(limit),
  });
  const url = apiUrl(jaegerUrl, '/api/v3/traces');
  for (const [k, v] of q) url.searchParams.append(k, v);
  return url.href;
}

export function traceUrl(jaegerUrl: string, traceId: string): string {
  return apiUrl(jaegerUrl, `/api/v3/traces/${traceId}`).href;
}

/**
 * `path` appended to the path of Jaeger's URL, before a query it may carry (a proxy's `?token=`):
 * appended to the string, it would land inside that query.
 */
function apiUrl(jaegerUrl: string, path: string): URL {
  const url = new URL(jaegerUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, '')}${path}`;
  return url;
}

/** Jaeger could not be reached at all (nothing listening, DNS, timeout). */
export class JaegerUnreachableError extends Error {
  override name = 'JaegerUnreachableError';
}

/** Jaeger answered, but not with traces. */
export class JaegerQueryError extends Error {
  override name = 'JaegerQueryError';
}

/** A run's reload traces in `body`, newest first. Spans that are not hotreload spans are ignored. */
export function reloadTracesFrom(body: OtlpTraces | null | undefined): ReloadTrace[] {
  const spans = list(list(body?.result?.resourceSpans).flatMap((rs) => list(rs?.scopeSpans)).flatMap((ss) => list(ss?.spans))).filter(
    (s): s is OtlpSpan => typeof s === 'object' && s !== null && typeof s.name === 'string' && typeof s.traceId === 'string',
  );
  const runs: ReloadTrace[] = [];
  for (const root of spans.filter((s) => s.name === SPAN_ROOT)) {
    const stages = spans
      .filter((s) => s.traceId === root.traceId && s.parentSpanId === root.spanId && s.name.startsWith(`${SPAN_ROOT}.`))
      .map((s) => ({
        stage: text(s, ATTR_STAGE) ?? s.name.slice(SPAN_ROOT.length + 1),
        startNs: nanos(s.startTimeUnixNano),
        endNs: nanos(s.endTimeUnixNano),
        failed: isError(s),
        errorType: text(s, ATTR_ERROR_TYPE),
      }))
      .sort((a, b) => (a.startNs < b.startNs ? -1 : a.startNs > b.startNs ? 1 : 0));
    const generation = attribute(root, ATTR_GENERATION)?.intValue;
    runs.push({
      traceId: root.traceId,
      startNs: nanos(root.startTimeUnixNano),
      endNs: nanos(root.endTimeUnixNano),
      target: text(root, ATTR_TARGET) ?? '?',
      trigger: text(root, ATTR_TRIGGER) ?? '?',
      outcome: text(root, ATTR_OUTCOME) ?? '?',
      errorType: text(root, ATTR_ERROR_TYPE),
      generation: generation === undefined || !Number.isFinite(Number(generation)) ? undefined : Number(generation),
      hash: text(root, ATTR_CONFIG_HASH),
      stages,
    });
  }
  return runs.sort((a, b) => (a.startNs > b.startNs ? -1 : a.startNs < b.startNs ? 1 : 0));
}

/**
 * Jaeger's memory store answers in the order traces were stored, newest first, but its batch
 * processor stores traces that arrive together in any order (checked with v2.13: five traces sent
 * 10 ms apart came back as 4, 3, 2, 1, 5). Asking for this many more and sorting by start time
 * keeps such a trace from falling off the end.
 */
const ORDER_MARGIN = 20;

/**
 * A Jaeger behind a proxy that wants credentials is given as `https://user:password@host`. fetch()
 * refuses a URL with userinfo, so it becomes the Basic credentials it stands for; the secrets are
 * then withheld from every message, which names the URL without them (redactUrl).
 */
function withCredentials(url: string): { url: string; headers: Record<string, string>; secrets: string[] } {
  const parsed = URL.parse(url);
  if (parsed === null || (parsed.username === '' && parsed.password === '')) return { url, headers: {}, secrets: [] };
  const user = decodeURIComponent(parsed.username);
  const password = decodeURIComponent(parsed.password);
  const basic = Buffer.from(`${user}:${password}`).toString('base64');
  parsed.username = '';
  parsed.password = '';
  return { url: parsed.href, headers: { authorization: `Basic ${basic}` }, secrets: [user, password, basic] };
}

/** The newest `limit` reload traces of `service`, newest first; [] when there are none. */
export async function fetchReloadTraces(jaegerUrl: string, options: SearchOptions): Promise<ReloadTrace[]> {
  const limit = options.limit ?? 20;
  const url = searchUrl(jaegerUrl, { ...options, limit: limit + ORDER_MARGIN });
  const request = withCredentials(url);
  // Jaeger (or its proxy) may echo what it was sent: its answer is shown without the credentials too.
  const shown = (text: string) => redactSecrets(text, request.secrets);
  let res: Response;
  try {
    res = await fetch(request.url, { headers: request.headers, signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
    throw new JaegerUnreachableError(`cannot reach Jaeger's query API at ${redactUrl(jaegerUrl)} (${shown(why)})`);
  }
  const body = await res.text();
  // api_v3 answers 404 "trace not found" when the search matches nothing.
  if (res.status === 404) return [];
  if (!res.ok) throw new JaegerQueryError(`Jaeger answered ${res.status} to GET ${redactUrl(url)}: ${shown(body.slice(0, 300))}`);
  let parsed: OtlpTraces;
  try {
    parsed = JSON.parse(body) as OtlpTraces;
  } catch {
    throw new JaegerQueryError(`Jaeger's answer to GET ${redactUrl(url)} is not JSON: ${shown(body.slice(0, 200))}`);
  }
  return reloadTracesFrom(parsed).slice(0, limit);
}

const list = <T>(value: T[] | undefined): T[] => (Array.isArray(value) ? value : []);

/** OTLP JSON carries 64-bit nanosecond times as decimal strings. */
const nanos = (value: unknown): bigint => (typeof value === 'string' && /^\d{1,20}$/.test(value) ? BigInt(value) : 0n);

function attribute(span: OtlpSpan, key: string): OtlpValue | undefined {
  const value = list(span.attributes).find((a) => a?.key === key)?.value;
  return typeof value === 'object' && value !== null ? value : undefined;
}

function text(span: OtlpSpan, key: string): string | undefined {
  const value = attribute(span, key);
  if (value === undefined) return undefined;
  const scalar = value.stringValue ?? value.intValue ?? value.boolValue ?? value.doubleValue;
  return scalar === undefined || typeof scalar === 'object' ? undefined : String(scalar);
}

const isError = (s: OtlpSpan) => s.status?.code === 2 || s.status?.code === 'STATUS_CODE_ERROR';
