/**
 * Build a new release of src/server.mjs into bundle/releases/<version>, activate it (bundle/current
 * is swapped atomically, after verification), and with --upgrade tell the running supervisor:
 *
 *   node src/deploy.ts              # first release, before starting the supervisor
 *   node src/deploy.ts --upgrade    # a new release + SIGUSR2 to the supervisor (pid in bundle/supervisor.pid),
 *                                   # then wait until the service answers from it (PORT, default 3000)
 *
 * BUNDLE_DIR moves bundle/ elsewhere. The pid file outlives the supervisor, and a pid is reused by
 * other processes, whose default action on SIGUSR2 is to die: the signal is sent only to a running
 * reloadscope-cluster.
 */
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { activateBundle, writeRelease } from '@reloadscope/config';

const here = new URL('..', import.meta.url).pathname;
const root = process.env.BUNDLE_DIR ?? join(here, 'bundle');
const version = `r${new Date().toISOString().replace(/\D/g, '').slice(0, 17)}`;
const source = (await readFile(join(here, 'src/server.mjs'), 'utf8')).replace('__RELEASE__', version);
await writeRelease(root, version, { 'server.mjs': source });
const result = await activateBundle({ root, version, target: 'deploy' });
console.log(`release ${version}: ${result.outcome}`);
if (result.outcome !== 'success') process.exit(1);

if (process.argv.includes('--upgrade')) {
  const pid = Number(await readFile(join(root, 'supervisor.pid'), 'utf8').catch(() => 'NaN'));
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    console.error('no bundle/supervisor.pid: start the supervisor with `npm start` first');
    process.exit(1);
  }
  if (!isSupervisor(pid)) {
    console.error(`bundle/supervisor.pid names pid ${pid}, which is not a running reloadscope-cluster: start the supervisor with \`npm start\` first`);
    process.exit(1);
  }
  process.kill(pid, 'SIGUSR2');
  console.log(`SIGUSR2 sent to the supervisor (pid ${pid})`);
  // Done means the service answers from the new release: the supervisor switches only once it is verified.
  const url = `http://localhost:${process.env.PORT ?? 3000}/`;
  const deadline = Date.now() + 30_000;
  while (!(await fetch(url).then((r) => r.text(), () => '')).includes(`release ${version} `)) {
    if (Date.now() > deadline) {
      console.error(`release ${version} is not serving after 30 s: the supervisor refused it (its log says why) or is still verifying it`);
      process.exit(1);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  console.log(`release ${version} is serving`);
} else {
  // The supervisor started by `npm start` is this script's parent shell's exec: same pid as ours' parent.
  await writeFile(join(root, 'supervisor.pid'), String(process.ppid));
}

/** Whether `pid` runs reloadscope-cluster, by its command line (Linux); elsewhere, whether it runs at all. */
function isSupervisor(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('reloadscope-cluster');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || process.platform === 'linux') return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}
