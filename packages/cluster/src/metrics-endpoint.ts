import { createServer, get, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { guardListener, LISTENER_SERVER_OPTIONS, requestPath } from '@reloadscope/core';

/**
 * One scrape of the instance = the primary's telemetry + every current worker's, merged by the
 * primary. Why this and not the alternatives:
 *
 * - a per-worker exporter on the shared port answers each scrape from whichever worker the
 *   round-robin picks: counters jump between workers' values from scrape to scrape;
 * - one scrape target per worker needs service discovery that follows every upgrade;
 * - OTLP push gives no `/metrics` for the instance at all.
 *
 * Each worker serves its own register endpoint on a private ephemeral loopback port and reports it
 * over IPC; the primary fetches them all per scrape (in parallel, each bounded) and adds
 * `hotreload_cluster_worker="<slot>"` to every worker sample. The slot (0…workers-1) is stable
 * across upgrades and replacements, so series do not churn per generation; a new process in a
 * slot is a counter reset, which rate() handles. Draining and starting workers are left out: they
 * share a slot with a current worker.
 */
export const WORKER_LABEL = 'hotreload_cluster_worker';
const FETCH_TIMEOUT_MS = 2000;
const MAX_TEXT_BYTES = 16 * 1024 * 1024;
const MAX_SCRAPE_CONNECTIONS = 32;

export interface ScrapeSource {
  url: string;
  /** Undefined for the primary's own telemetry (no label added). */
  slot: number | undefined;
}

function fetchText(url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: FETCH_TIMEOUT_MS, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return resolve(undefined);
      }
      let size = 0;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_TEXT_BYTES) return void req.destroy();
        chunks.push(c);
      });
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      res.on('error', () => resolve(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
  });
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{)?/;

/** A worker's sample with its slot label; undefined for a worker line that is no sample (dropped). */
function labelled(line: string, slot: number | undefined): string | undefined {
  if (slot === undefined) return line;
  const m = SAMPLE.exec(line);
  // Whatever a worker prints, it cannot add a series without its slot label (e.g. one posing as the primary's).
  if (!m) return undefined;
  const label = `${WORKER_LABEL}="${slot}"`;
  return m[2] ? `${m[1]}{${label},${line.slice(m[0].length)}` : `${m[1]}{${label}}${line.slice(m[1]!.length)}`;
}

/**
 * Merge Prometheus text expositions: one HELP/TYPE per family (the first source's), the samples of
 * every source under it. Samples before any family header keep their own (untyped) group.
 */
export function mergeExpositions(texts: Array<{ text: string; slot: number | undefined }>): string {
  const families = new Map<string, { header: string[]; samples: string[] }>();
  for (const { text, slot } of texts) {
    let current = '';
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const header = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (header) {
        current = header[2]!;
        const family = families.get(current) ?? { header: [], samples: [] };
        families.set(current, family);
        if (!family.header.some((h) => h.startsWith(`# ${header[1]} `))) family.header.push(line);
        continue;
      }
      if (line.startsWith('#')) continue;
      const family = families.get(current) ?? { header: [], samples: [] };
      families.set(current, family);
      const sample = labelled(line, slot);
      if (sample !== undefined) family.samples.push(sample);
    }
  }
  const out: string[] = [];
  for (const { header, samples } of families.values()) out.push(...header, ...samples, '');
  return out.join('\n');
}

/** The instance's one scrape endpoint. Unref'ed: it never keeps a finished supervisor alive. */
export class ClusterMetricsEndpoint {
  readonly #server: Server;
  readonly url: Promise<string | undefined>;

  constructor(host: string, port: number, sources: () => ScrapeSource[], path = '/metrics') {
    this.#server = createServer(LISTENER_SERVER_OPTIONS, (req, res) => {
      res.shouldKeepAlive = false;
      if (requestPath(req.url) !== path || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.statusCode = requestPath(req.url) === path ? 405 : 404;
        return void res.end();
      }
      const list = sources();
      void Promise.all(list.map(async (s) => ({ text: (await fetchText(s.url)) ?? '', slot: s.slot }))).then((texts) => {
        res.setHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8');
        res.end(req.method === 'HEAD' ? undefined : mergeExpositions(texts));
      });
    });
    // Silent or trickling clients cannot keep a scrape out, nor hold a connection past 10 s.
    guardListener(this.#server, MAX_SCRAPE_CONNECTIONS);
    this.#server.unref();
    this.#server.on('error', () => {});
    this.url = new Promise((resolve) => {
      this.#server.once('error', () => resolve(undefined));
      this.#server.listen({ port, host, exclusive: true }, () => {
        const a = this.#server.address() as AddressInfo;
        resolve(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}${path}`);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
