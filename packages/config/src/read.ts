import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { ConfigError, fsError } from './errors.ts';

export interface ReadResult {
  bytes: Buffer;
  /** Lowercase hex sha256 of `bytes`, computed while reading. */
  hash: string;
  size: number;
}

const CHUNK = 64 * 1024;

/**
 * Read a whole file, hashing as it streams, and stop as soon as it exceeds `maxBytes`
 * (the size from fstat is not trusted: the file can grow while we read).
 */
export async function readCapped(path: string, maxBytes: number, signal?: AbortSignal): Promise<ReadResult> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw fsError(err, 'config file', 'load');
  }
  try {
    const stat = await handle.stat().catch((err: unknown) => {
      throw fsError(err, 'config file', 'load');
    });
    if (!stat.isFile()) throw new ConfigError('read_error', 'config path is not a regular file', { stage: 'load' });
    if (stat.size > maxBytes) throw tooLarge(maxBytes);
    const hash = createHash('sha256');
    const chunks: Buffer[] = [];
    let size = 0;
    for (;;) {
      signal?.throwIfAborted();
      const buf = Buffer.allocUnsafe(CHUNK);
      let bytesRead: number;
      try {
        ({ bytesRead } = await handle.read(buf, 0, CHUNK, null));
      } catch (err) {
        throw fsError(err, 'config file', 'load');
      }
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > maxBytes) throw tooLarge(maxBytes);
      const chunk = buf.subarray(0, bytesRead);
      hash.update(chunk);
      chunks.push(chunk);
    }
    return { bytes: Buffer.concat(chunks, size), hash: hash.digest('hex'), size };
  } finally {
    await handle.close().catch(() => {});
  }
}

function tooLarge(maxBytes: number): ConfigError {
  return new ConfigError('too_large', `config file exceeds maxBytes (${maxBytes})`, { stage: 'load' });
}
