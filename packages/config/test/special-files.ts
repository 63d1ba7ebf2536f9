import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';

/** Things that can sit at a path where a regular file is expected, each a real one. */
export const SPECIAL_KINDS = ['fifo', 'socket', 'dev-zero', 'dev-urandom', 'directory'] as const;
export type SpecialKind = (typeof SPECIAL_KINDS)[number];

/** What the refusal message names for each kind (read.ts describes what fstat found). */
export const FOUND: Record<SpecialKind, RegExp> = {
  fifo: /not a regular file \(a FIFO\)/,
  socket: /not a regular file \(a socket/,
  'dev-zero': /not a regular file \(a character device\)/,
  'dev-urandom': /not a regular file \(a character device\)/,
  directory: /not a regular file \(a directory\)/,
};

export interface Special {
  /** Undo: a FIFO first releases any open(2) still blocked on it (old code), then it is removed. */
  remove(): Promise<void>;
}

/** Replace whatever is at `path` by a special file of `kind`. */
export async function makeSpecial(path: string, kind: SpecialKind): Promise<Special> {
  await rm(path, { recursive: true, force: true });
  let server: Server | undefined;
  switch (kind) {
    case 'fifo':
      // node:fs has no mkfifo.
      execFileSync('mkfifo', [path]);
      break;
    case 'socket':
      server = createServer();
      await new Promise<void>((resolve, reject) => server!.once('error', reject).listen(path, resolve));
      break;
    case 'dev-zero':
      await symlink('/dev/zero', path);
      break;
    case 'dev-urandom':
      await symlink('/dev/urandom', path);
      break;
    case 'directory':
      await mkdir(path);
      break;
  }
  return {
    async remove() {
      if (kind === 'fifo') unparkFifo(path);
      if (server) await new Promise((r) => server!.close(r));
      await rm(path, { recursive: true, force: true });
    },
  };
}

/**
 * Open the write end without blocking and close it: a reader blocked in open(2) on the FIFO
 * (a parked libuv thread) then returns. Fails with ENXIO when nobody is blocked, which is fine.
 */
export function unparkFifo(path: string): void {
  try {
    closeSync(openSync(path, constants.O_WRONLY | constants.O_NONBLOCK));
  } catch {
    // No reader waiting.
  }
}
