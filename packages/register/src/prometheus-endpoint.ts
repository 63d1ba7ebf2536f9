import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { reportOnce } from './report.ts';

/**
 * The scrape endpoint, served by reloadscope rather than by the exporter's built-in server so
 * that (a) port 0 means an ephemeral port (the exporter turns 0 into 9464), (b) a taken port is
 * reported once, clearly, and never surfaces as an unhandled error, and (c) the bound address is
 * known. The server is unref'ed: it never keeps an otherwise finished process alive.
 */
export class PrometheusEndpoint {
  readonly #server: Server;
  readonly url: Promise<string | undefined>;

  constructor(exporter: PrometheusExporter, host: string, port: number, path = '/metrics') {
    this.#server = createServer((req, res) => {
      const pathname = new URL(req.url ?? '/', 'http://x').pathname;
      if (pathname !== path) {
        res.statusCode = 404;
        res.end();
        return;
      }
      exporter.getMetricsRequestHandler(req, res);
    });
    this.#server.unref();
    this.url = new Promise((resolve) => {
      this.#server.once('error', (err: NodeJS.ErrnoException) => {
        const why = err.code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${err.code ?? err.name})`;
        reportOnce(
          'prometheus-listen',
          `Prometheus metrics endpoint not started: ${host}:${port} ${why}. The application keeps running, ` +
            'but its reload metrics cannot be scraped; set OTEL_EXPORTER_PROMETHEUS_PORT to a free port.',
        );
        resolve(undefined);
      });
      this.#server.listen({ host, port }, () => {
        const a = this.#server.address() as AddressInfo;
        const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
        resolve(`http://${h}:${a.port}${path}`);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) return resolve();
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
