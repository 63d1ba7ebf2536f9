/**
 * SIGTERM to the `npm` process a user (or a supervisor) started must stop the service it runs.
 * npm forwards SIGTERM to its direct child only; a shell or a second npm in between dies and leaves
 * the service running, holding its ports. Only npm's own pid is signalled here, never the group.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { eventually } from '../support/eventually.ts';
import { start } from './child.ts';

const root = resolve(import.meta.dirname, '../..');

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const accepts = (url: string) =>
  new Promise<boolean>((done) => {
    const { hostname, port } = new URL(url);
    const socket = connect({ host: hostname === 'localhost' ? '127.0.0.1' : hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      done(true);
    });
    socket.once('error', () => done(false));
  });

const cases = [
  { name: 'npm start (repository root)', args: ['start'], cwd: root },
  { name: 'npm start (examples/config-service)', args: ['start'], cwd: resolve(root, 'examples/config-service') },
  { name: 'npm run demo (repository root)', args: ['run', 'demo'], cwd: root },
];

for (const c of cases) {
  test(`SIGTERM to the pid of \`${c.name}\` stops the service and frees its ports`, { timeout: 60_000 }, async (t) => {
    const npm = start(t, 'npm', c.args, {
      cwd: c.cwd,
      env: { PORT: '0', OTEL_EXPORTER_PROMETHEUS_PORT: '0', OTEL_TRACES_EXPORTER: 'none', OTEL_SERVICE_NAME: 'signals-test' },
    });
    const url = (await npm.waitFor(/config-service listening on (http:\S+)/))[1]!;
    const pid = Number((await npm.waitFor(/send SIGHUP to pid (\d+)/))[1]);
    const metrics = (await npm.waitFor(/metrics: (http:\S+)\/metrics/))[1]!;
    assert.ok(alive(pid) && (await accepts(url)) && (await accepts(metrics)), npm.output());
    assert.notEqual(pid, npm.proc.pid, 'the service is a process of its own');

    process.kill(npm.proc.pid!, 'SIGTERM');
    await eventually(async () => !alive(pid), `service pid ${pid} to exit after SIGTERM to npm (pid ${npm.proc.pid})`, 10_000);
    assert.equal(await accepts(url), false, `${url} still accepts connections`);
    assert.equal(await accepts(metrics), false, `${metrics} still accepts connections`);
    await npm.exited;
  });
}
