import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, totalmem } from 'node:os';

const require = createRequire(import.meta.url);

function versionOf(pkg: string): string {
  try {
    // The package.json subpath is not always exported; resolve the entry and walk up instead.
    const entry = require.resolve(pkg);
    const root = entry.slice(0, entry.lastIndexOf(`/node_modules/${pkg}/`) + `/node_modules/${pkg}/`.length);
    return (JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** What a reader needs to compare numbers across machines. */
export function environment() {
  const cpu = cpus();
  return {
    node: process.version,
    v8: process.versions.v8,
    openssl: process.versions.openssl,
    platform: `${process.platform} ${process.arch}`,
    cpu: `${cpu.length} × ${cpu[0]?.model ?? 'unknown'}`,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    loadAverageAtStart: loadavg().map((l) => Number(l.toFixed(2))),
    packages: Object.fromEntries(
      [
        '@opentelemetry/api',
        '@opentelemetry/sdk-trace',
        '@opentelemetry/sdk-metrics',
        '@opentelemetry/context-async-hooks',
        '@opentelemetry/instrumentation',
        'tinybench',
      ].map((p) => [p, versionOf(p)]),
    ),
  };
}
