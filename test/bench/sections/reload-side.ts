/**
 * One process manager of reload-vs-pm2 in its own process: `reload-side.ts pm2|reloadscope`.
 * It starts 4 workers of `$RELOAD_APP_DIR/server.cjs` on `$PORT`, then answers the parent's IPC
 * messages: `reload` → `reloaded` (once the reload is complete: every old worker gone), `stop` →
 * exit. PM2 runs in no-daemon mode, so its God lives in this process and `$PM2_HOME` (set by the
 * parent before this process imported pm2) is a fresh directory: the parent can kill this process
 * and anything that still carries that PM2_HOME without touching a PM2 the machine runs.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { superviseCluster } from '@reloadscope/cluster';

const WORKERS = 4;
const side = process.argv[2];
const dir = process.env.RELOAD_APP_DIR!;
const port = process.env.PORT!;

interface Side {
  reload(): Promise<void>;
  stop(): Promise<void>;
}

const progress = (line: string) => process.stderr.write(`${side}: ${line}\n`);

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${side}: timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

async function startReloadscope(): Promise<Side> {
  const supervisor = await superviseCluster({ release: dir, entry: 'server.cjs', workers: WORKERS, env: { PORT: port }, signal: false });
  const settled = () => supervisor.workers().every((w) => w.state === 'current') && supervisor.workers().length === WORKERS;
  await until(settled, `${WORKERS} current workers`, 20_000);
  return {
    async reload() {
      const result = await supervisor.upgrade();
      if (result.outcome !== 'success') throw new Error(`upgrade ${result.outcome}: ${result.error?.code} ${result.error?.message}`);
      await until(settled, 'the old generation to drain', 20_000);
    },
    stop: () => supervisor.close(),
  };
}

async function startPm2(): Promise<Side> {
  // Imported here, never at the top: PM2_HOME must be in place before pm2 reads it on import.
  const { default: pm2 } = await import('pm2');
  const call = <T>(fn: (cb: (err: Error | null, value: T) => void) => void) =>
    new Promise<T>((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
  await call<unknown>((cb) => pm2.connect(true, cb as (err: Error) => void));
  const name = 'reload-bench';
  await call((cb) =>
    pm2.start(
      {
        name,
        script: join(dir, 'server.cjs'),
        exec_mode: 'cluster',
        instances: WORKERS,
        env: { PORT: port },
        output: '/dev/null',
        error: '/dev/null',
      },
      cb,
    ),
  );
  const online = async () => {
    const list = await call<Array<{ pm2_env?: { status?: string } }>>((cb) => pm2.list(cb));
    return list.length === WORKERS && list.every((p) => p.pm2_env?.status === 'online');
  };
  await until(online, `${WORKERS} online workers`, 20_000);
  return {
    async reload() {
      await call((cb) => pm2.reload(name, cb));
      await until(online, `${WORKERS} online workers after the reload`, 20_000);
    },
    async stop() {
      try {
        await call((cb) => pm2.delete(name, cb));
      } finally {
        await call((cb) => pm2.killDaemon(cb)).catch(() => undefined);
        pm2.disconnect();
      }
    },
  };
}

async function main(): Promise<void> {
  progress(`starting ${WORKERS} workers`);
  const s = side === 'pm2' ? await startPm2() : await startReloadscope();
  process.send!({ type: 'ready' });
  process.on('message', (m: { type: string; i?: number }) => {
    if (m.type === 'reload') {
      s.reload().then(
        () => process.send!({ type: 'reloaded', i: m.i }),
        (err: unknown) => process.send!({ type: 'reloaded', i: m.i, error: String(err) }),
      );
    } else if (m.type === 'stop') {
      s.stop().finally(() => process.exit(0));
    }
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
