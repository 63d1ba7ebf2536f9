/**
 * Issue 6, item 4: config hashing throughput on a 64 MiB file against `openssl dgst -sha256` on
 * the same file (spawned, wall time), with each method's peak-RSS growth measured in a fresh
 * process. @reloadscope/config's digest-only path is hashFile() (streamed, bounded memory; used
 * for bundle files); readCapped() hashes while it reads the bytes a config is parsed from; core's
 * is sha256Hex() on bytes.
 */
import { execFile, fork } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../lib/fixtures.ts';
import { HASH_METHODS, type HashMethod } from '../lib/hash-methods.ts';
import { runSection, type SectionOptions, type SectionResult } from '../lib/section.ts';
import { formatSummary, rotate, summarize } from '../lib/stats.ts';

const here = dirname(fileURLToPath(import.meta.url));
const run = promisify(execFile);

function writeRandomFile(path: string, bytes: number): void {
  const fd = openSync(path, 'w');
  const chunk = Buffer.allocUnsafe(8 * 1024 * 1024);
  try {
    for (let written = 0; written < bytes; written += chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk, 0, Math.min(chunk.length, bytes - written));
    }
  } finally {
    closeSync(fd);
  }
}

interface ChildResult {
  hash: string;
  wallMs: number;
  rssBeforeKiB: number;
  rssPeakKiB: number;
}

function hashInChild(method: HashMethod, file: string, warmFile: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = fork(join(here, 'hash-child.ts'), [method, file, warmFile], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: ChildResult | undefined;
    child.on('message', (m: ChildResult) => {
      result = m;
    });
    child.on('error', reject);
    child.on('exit', (code) => (result && code === 0 ? resolve(result) : reject(new Error(`hash-child ${method} exited ${code}`))));
  });
}

async function openssl(file: string): Promise<{ hash: string; wallMs: number }> {
  const t0 = performance.now();
  const { stdout } = await run('openssl', ['dgst', '-sha256', '-r', file]);
  const wallMs = performance.now() - t0;
  return { hash: stdout.trim().split(/\s+/)[0]!.toLowerCase(), wallMs };
}

async function hashing(options: SectionOptions): Promise<SectionResult> {
  const dir = tempDir('hash');
  const size = 64 * 1024 * 1024;
  const file = join(dir, 'big.bin');
  const warmFile = join(dir, 'warm.bin');
  writeRandomFile(file, size);
  writeRandomFile(warmFile, 1024 * 1024);
  const reference = await openssl(file); // also pulls the file into the page cache for everyone

  const methods = Object.keys(HASH_METHODS) as HashMethod[];
  const wall: Record<string, number[]> = { openssl: [] };
  const rssGrowth: Record<string, number[]> = {};
  for (const m of methods) {
    wall[m] = [];
    rssGrowth[m] = [];
  }
  const rounds = options.quick ? 1 : 5;
  for (let round = 0; round < rounds; round++) {
    for (const m of rotate([...methods, 'openssl' as const], round)) {
      if (m === 'openssl') {
        const r = await openssl(file);
        if (r.hash !== reference.hash) throw new Error('openssl disagrees with itself');
        wall.openssl!.push(r.wallMs);
        continue;
      }
      const r = await hashInChild(m, file, warmFile);
      if (r.hash !== reference.hash) throw new Error(`${m} hash ${r.hash} differs from openssl ${reference.hash}`);
      wall[m]!.push(r.wallMs);
      rssGrowth[m]!.push((r.rssPeakKiB - r.rssBeforeKiB) * 1024);
    }
  }
  const mib = 1024 * 1024;
  const sizeMiB = size / mib;
  const throughput = (ms: number[]) => summarize(ms.map((x) => sizeMiB / (x / 1000)));
  const pctOfOpenssl = (m: string) => summarize(wall[m]!.map((x, i) => (wall.openssl![i]! / x) * 100));
  const rows = [
    ...methods.map((m) => {
      const growth = summarize(rssGrowth[m]!.map((b) => b / mib));
      return {
        measurement: HASH_METHODS[m],
        value: `${formatSummary(throughput(wall[m]!), 0)} MiB/s`,
        vsBaseline: `${formatSummary(pctOfOpenssl(m), 0)} % of openssl`,
        note: `peak RSS growth ${formatSummary(growth, 1)} MiB`,
      };
    }),
    {
      measurement: 'openssl dgst -sha256 (spawned, wall time incl. process start)',
      value: `${formatSummary(throughput(wall.openssl!), 0)} MiB/s`,
      vsBaseline: 'baseline',
      note: '',
    },
  ];
  const capped = pctOfOpenssl('readCapped');
  const cappedRss = summarize(rssGrowth.readCapped!);
  const product = pctOfOpenssl('hashFile');
  const productRss = summarize(rssGrowth.hashFile!);
  return {
    id: 'hashing',
    title: `4. Hashing a ${sizeMiB} MiB file (fresh process per method; node times exclude process start)`,
    rows,
    targets: [
      {
        name: 'config hashing (hashFile) throughput vs openssl',
        goal: '≥ 90 %',
        measured: `${formatSummary(product, 0)} %`,
        met: product.median >= 90,
      },
      {
        name: 'config hashing (hashFile) peak RSS growth',
        goal: `bounded: < 25 % of the file (${sizeMiB / 4} MiB)`,
        measured: `${(productRss.median / mib).toFixed(1)} MiB`,
        met: productRss.median < size / 4,
      },
      {
        name: 'config read + hash (readCapped) throughput vs openssl',
        goal: '≥ 90 %',
        measured: `${formatSummary(capped, 0)} %`,
        met: capped.median >= 90,
      },
      {
        name: 'config read + hash (readCapped) peak RSS growth',
        goal: `one copy of the file: < 110 % (${(sizeMiB * 1.1).toFixed(1)} MiB)`,
        measured: `${(cappedRss.median / mib).toFixed(1)} MiB`,
        met: cappedRss.median < size * 1.1,
      },
    ],
    data: {
      fileBytes: size,
      sha256: reference.hash,
      wallMs: Object.fromEntries(Object.entries(wall).map(([k, v]) => [k, summarize(v)])),
      rssGrowthBytes: Object.fromEntries(Object.entries(rssGrowth).map(([k, v]) => [k, summarize(v)])),
      percentOfOpenssl: Object.fromEntries(methods.map((m) => [m, pctOfOpenssl(m)])),
    },
    notes: [
      'readCapped() must return the bytes (they are parsed next), so its RSS grows by the file size: it reads into one buffer of the fstat size, 1 MiB per read, the next read running while the previous chunk is hashed; first-touch page faults of that fresh buffer are what it still pays over hashFile()',
    ],
  };
}

runSection(hashing);
