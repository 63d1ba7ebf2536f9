import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A realistic service config of about `targetBytes` of JSON: nested sections, routes, feature
 * flags, numbers and strings. Deterministic for a given seed, so runs compare like with like.
 * Seed 0 gives the same config as seed 1 (xorshift would stay at 0 forever).
 */
export function configJson(targetBytes: number, seed = 1): string {
  let state = seed >>> 0 === 0 ? 1 : seed >>> 0;
  const rand = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const word = () => Math.floor(rand() * 36 ** 6).toString(36);
  const config: Record<string, unknown> = {
    service: { name: 'orders', seed, region: 'eu-west-1', logLevel: 'info' },
    http: { port: 8080, timeoutsMs: { read: 5000, write: 5000, idle: 60000 } },
    features: {} as Record<string, boolean>,
    routes: [] as unknown[],
  };
  const features = config.features as Record<string, boolean>;
  const routes = config.routes as unknown[];
  let i = 0;
  while (JSON.stringify(config, null, 2).length < targetBytes) {
    features[`flag_${word()}`] = rand() < 0.5;
    routes.push({ path: `/api/v${1 + (i % 3)}/${word()}/${word()}`, upstream: `http://${word()}.svc:${8000 + (i % 100)}`, retries: i % 4, weight: Math.round(rand() * 100) });
    i++;
  }
  return JSON.stringify(config, null, 2);
}

/** A temp directory removed at exit, even when a section fails half-way. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `reloadscope-bench-${prefix}-`));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
