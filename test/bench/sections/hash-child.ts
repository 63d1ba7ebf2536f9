/**
 * One hashing method on one file in a fresh process, so the peak-RSS high-water mark belongs to
 * that method alone. Usage (forked by hashing.ts): hash-child.ts <method> <file>
 */
import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { hashFile, readCapped } from '@reloadscope/config';
import { sha256Hex } from '@reloadscope/core';
import { HASH_METHODS, type HashMethod as Method } from '../lib/hash-methods.ts';


const CHUNK = 1024 * 1024;

/** What readCapped could do instead: one buffer of the fstat size, hashed chunk by chunk. */
async function readPreallocated(path: string, maxBytes: number): Promise<{ hash: string; size: number }> {
  const handle = await open(path, 'r');
  try {
    const { size: expected } = await handle.stat();
    if (expected > maxBytes) throw new Error('too large');
    let buf = Buffer.allocUnsafe(expected + 1); // +1 detects growth while reading
    const hash = createHash('sha256');
    let size = 0;
    for (;;) {
      if (size === buf.length) {
        if (buf.length > maxBytes) throw new Error('too large');
        const bigger = Buffer.allocUnsafe(Math.min(maxBytes + 1, buf.length * 2));
        buf.copy(bigger, 0, 0, size);
        buf = bigger;
      }
      const { bytesRead } = await handle.read(buf, size, Math.min(CHUNK, buf.length - size), null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(size, size + bytesRead));
      size += bytesRead;
    }
    return { hash: hash.digest('hex'), size };
  } finally {
    await handle.close();
  }
}

/** A bounded-memory streamed hash: one buffer reused for every read. */
async function hashOnly(path: string): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    const hash = createHash('sha256');
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, CHUNK, null);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
    }
    return hash.digest('hex');
  } finally {
    await handle.close();
  }
}

async function hashWith(method: Method, file: string): Promise<string> {
  switch (method) {
    case 'hashFile':
      return (await hashFile(file)).hash;
    case 'readCapped':
      return (await readCapped(file, 2 ** 30)).hash;
    case 'preallocated':
      return (await readPreallocated(file, 2 ** 30)).hash;
    case 'streamOnly':
      return hashOnly(file);
    case 'wholeFile':
      return sha256Hex(await readFile(file));
  }
}

async function main(): Promise<void> {
  const [method, file, warmFile] = process.argv.slice(2) as [Method, string, string];
  if (!(method in HASH_METHODS) || !file || !warmFile) throw new Error('usage: hash-child.ts <method> <file> <warm-up file>');
  await hashWith(method, warmFile); // load crypto/fs code paths before the RSS baseline
  const rssBeforeKiB = process.resourceUsage().maxRSS;
  const t0 = performance.now();
  const hash = await hashWith(method, file);
  const wallMs = performance.now() - t0;
  const rssPeakKiB = process.resourceUsage().maxRSS;
  process.send?.({ hash, wallMs, rssBeforeKiB, rssPeakKiB }, () => process.exit(0));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
