/**
 * A small HTTP service that reloads its 14 KB JSON config every 100 ms, either through
 * @reloadscope/config with the full SDK wiring and probes (`reloadscope`) or by hand with no
 * OpenTelemetry at all (`plain`). It measures its own event-loop delay between the parent's
 * `start` and `stop` messages. Usage (forked by eventloop.ts): eventloop-server.ts <mode> <config file>
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { watchConfig } from '@reloadscope/config';
import { fullWiring } from '../lib/otel.ts';

interface AppConfig {
  service: { name: string };
  routes: Array<{ path: string; weight: number }>;
}

const [mode, fileArg] = process.argv.slice(2);
if ((mode !== 'reloadscope' && mode !== 'plain') || !fileArg) throw new Error('usage: eventloop-server.ts <reloadscope|plain> <config file>');
const file: string = fileArg;

async function main(): Promise<void> {
  let current: () => AppConfig;
  let reload: () => Promise<void>;
  let close: () => Promise<void>;
  let failures = 0;
  if (mode === 'reloadscope') {
    const wiring = fullWiring();
    const { reloads } = wiring.instrument({ probes: true });
    const watcher = await watchConfig<AppConfig>({ path: file, format: 'json', instrumentation: reloads, watch: false, signal: false });
    current = () => watcher.current;
    reload = async () => {
      const r = await watcher.reload({ trigger: 'poll', force: true });
      if (r.outcome !== 'success') failures++;
    };
    close = async () => {
      await watcher.close();
      await wiring.shutdown();
    };
  } else {
    const load = async () => {
      const bytes = await readFile(file);
      const hash = createHash('sha256').update(bytes).digest('hex');
      return { value: JSON.parse(bytes.toString('utf8')) as AppConfig, hash };
    };
    let active = await load();
    current = () => active.value;
    reload = async () => {
      active = await load();
    };
    close = async () => {};
  }

  const server = createServer((req, res) => {
    // Real work per request that depends on the active config: a routing-table lookup.
    const cfg = current();
    const route = cfg.routes[(req.url?.length ?? 0) % cfg.routes.length];
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ service: cfg.service.name, route: route?.path, routes: cfg.routes.length }));
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  let reloadsDone = 0;
  let reloading = false;
  const timer = setInterval(() => {
    if (reloading) return; // never pile up: a reload slower than 100 ms skips a tick
    reloading = true;
    reload()
      .then(() => reloadsDone++)
      .catch(() => failures++)
      .finally(() => {
        reloading = false;
      });
  }, 100);

  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let reloadsAtStart = 0;
  process.on('message', (m: { type: string }) => {
    if (m.type === 'start') {
      reloadsAtStart = reloadsDone;
      histogram.reset();
      histogram.enable();
    } else if (m.type === 'stop') {
      histogram.disable();
      clearInterval(timer);
      const ms = (ns: number) => ns / 1e6;
      const stats = {
        p50: ms(histogram.percentile(50)),
        p99: ms(histogram.percentile(99)),
        max: ms(histogram.max),
        mean: ms(histogram.mean),
        reloads: reloadsDone - reloadsAtStart,
        failures,
      };
      server.closeAllConnections();
      server.close();
      void close().finally(() => process.send?.({ type: 'stats', stats }, () => process.exit(0)));
    }
  });
  process.send?.({ type: 'ready', port });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
