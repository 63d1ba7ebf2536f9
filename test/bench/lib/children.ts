/**
 * Child processes of a section (servers, load generators, process managers): forked from
 * test/bench/sections, SIGKILLed when the section process exits so none outlives a crashed section,
 * and every wait for one of their messages is bounded.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const sections = join(dirname(fileURLToPath(import.meta.url)), '..', 'sections');

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** `stdout: 'ignore'` for children that log per event (PM2's God in no-daemon mode); stderr always shows. */
export function spawnChild(script: string, args: string[], env?: NodeJS.ProcessEnv, stdout: 'inherit' | 'ignore' = 'inherit'): ChildProcess {
  const child = fork(join(sections, script), args, { stdio: ['ignore', stdout, 'inherit', 'ipc'], ...(env ? { env } : {}) });
  children.add(child);
  child.on('exit', () => children.delete(child));
  return child;
}

export function nextMessage<T>(child: ChildProcess, type: string | undefined, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no '${type ?? 'result'}' message within ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before sending '${type ?? 'result'}'`));
    };
    child.once('exit', onExit);
    child.on('message', function handler(m: { type?: string }) {
      if (type !== undefined && m.type !== type) return;
      clearTimeout(timer);
      child.off('message', handler);
      child.off('exit', onExit);
      resolve(m as T);
    });
  });
}

