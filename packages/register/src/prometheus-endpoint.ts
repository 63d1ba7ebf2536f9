import { createServer, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { diag } from '@opentelemetry/api';
import { type PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { guardListener, LISTENER_SERVER_OPTIONS, requestPath } from '@reloadscope/core';
import { reportOnce } from './report.ts';

/**
 * A handful of scrapers need a handful of connections. Beyond this a new one replaces the oldest
 * connection still waiting for a request (core's guardListener), or is closed when all are busy.
 */
export const MAX_SCRAPE_CONNECTIONS = 32;

/**
 * The scrape endpoint, served by reloadscope rather than by the exporter's built-in server so
 * that (a) port 0 means an ephemeral port (the exporter turns 0 into 9464), (b) a taken port is
 * reported once, clearly, and never surfaces as an unhandled error, and (c) the bound address is
 * known. The server is unref'ed: it never keeps an otherwise finished process alive.
 *
 * It is often bound to all interfaces, so it answers any request without throwing: GET and HEAD
 * of `path` get the metrics, other methods there 405, other targets 404, unusable targets 400.
 */
export class PrometheusEndpoint {
  readonly #server: Server;
  readonly #exporter: PrometheusExporter;
  readonly #serializer: PrometheusSerializer;
  /** Scrapes that arrive while one is collected share its text: one collection at a time. */
  #collecting: Promise<string> | undefined;
  readonly url: Promise<string | undefined>;

  /** `serializer` must be configured like the exporter; the default matches `new PrometheusExporter()`'s. */
  constructor(exporter: PrometheusExporter, host: string, port: number, path = '/metrics', serializer = new PrometheusSerializer()) {
    this.#exporter = exporter;
    this.#serializer = serializer;
    this.#server = createServer(LISTENER_SERVER_OPTIONS, (req, res) => {
      const requested = requestPath(req.url);
      if (requested === path && (req.method === 'GET' || req.method === 'HEAD')) return this.#scrape(res);
      // Anything else is answered and the connection closed: no body it carries is read.
      res.shouldKeepAlive = false;
      if (requested === undefined) res.statusCode = 400;
      else if (requested !== path) res.statusCode = 404;
      else {
        res.statusCode = 405;
        res.setHeader('allow', 'GET, HEAD');
      }
      res.end();
    });
    guardListener(this.#server, MAX_SCRAPE_CONNECTIONS);
    this.#server.unref();
    this.url = new Promise((resolve) => {
      const notStarted = (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${err.code ?? err.name})`;
        reportOnce(
          'prometheus-listen',
          `Prometheus metrics endpoint not started: ${host}:${port} ${why}. The application keeps running, ` +
            'but its reload metrics cannot be scraped; set OTEL_EXPORTER_PROMETHEUS_PORT to a free port.',
        );
        resolve(undefined);
      };
      this.#server.once('error', notStarted);
      // exclusive: in a cluster worker, a shared listen would make port 0 one round-robin handle
      // for every worker, so a scrape of "this worker's" endpoint reaches any of them.
      this.#server.listen({ host, port, exclusive: true }, () => {
        this.#server.off('error', notStarted);
        // Accept failures (EMFILE…) arrive as 'error' events while the server keeps accepting;
        // unheard, one would be thrown and end the application.
        this.#server.on('error', (err: NodeJS.ErrnoException) => {
          reportOnce('prometheus-accept', `Prometheus metrics endpoint: ${err.code ?? err.name} while accepting a connection; still serving.`);
        });
        const a = this.#server.address() as AddressInfo;
        const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
        resolve(`http://${h}:${a.port}${path}`);
      });
    });
  }

  /** Never throws and never leaves a rejection unhandled: a failed collection is a 500, not a crash. */
  #scrape(res: ServerResponse): void {
    this.#collecting ??= this.#collect().finally(() => {
      this.#collecting = undefined;
    });
    this.#collecting.then(
      (text) => {
        if (res.headersSent || res.destroyed) return;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
      (err: unknown) => {
        diag.error('reloadscope: Prometheus metrics collection failed', err);
        if (res.headersSent || res.destroyed) return;
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('# metrics collection failed\n');
      },
    );
  }

  async #collect(): Promise<string> {
    const { resourceMetrics, errors } = await this.#exporter.collect();
    if (errors.length) diag.error('reloadscope: Prometheus metrics collection errors', ...errors);
    return this.#serializer.serialize(resourceMetrics);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
