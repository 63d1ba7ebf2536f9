/**
 * The service address (service-address.ts): learned from the first generation, or given as
 * `port`; every later generation must listen on all of it, and keep listening through the
 * stabilization window.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { superviseCluster } from '../src/index.ts';
import { activate, appSource, freePort, get, plainApps, startCluster, tempDir, writeApp } from './harness.ts';

/** The plain app plus an admin server of its own on a fixed port. */
const withAdmin = (name: string) => appSource(name, "http.createServer((req, res) => res.end('admin')).listen(Number(process.env.ADMIN_PORT), '127.0.0.1');");

test('an app on two fixed ports: both are the service address, and a release that drops one is refused; with `port`, only that one counts', { timeout: 60_000 }, async (t) => {
  const admin = await freePort();
  const releases = { two: withAdmin('two'), one: appSource('one') };
  const options = { env: { ADMIN_PORT: String(admin) }, readyTimeoutMs: 1500, stabilizeMs: 200 };
  const { root, port, supervisor } = await startCluster(t, releases, options);
  assert.deepEqual([...supervisor.addresses].sort(), [`127.0.0.1:${admin}`, `127.0.0.1:${port}`].sort());
  await activate(root, 'one');
  const refused = await supervisor.upgrade();
  assert.equal(refused.outcome, 'failure');
  assert.equal(refused.error?.code, 'wrong_address');
  assert.match(refused.error!.message, new RegExp(`did not listen on the service address .*127\\.0\\.0\\.1:${admin}`));
  assert.equal((await get(admin, '/')).body, 'admin', 'the admin port still answers');
  await supervisor.close();

  await activate(root, 'two');
  const onPort = await superviseCluster({ release: `${root}/current`, entry: 'server.mjs', workers: 2, env: { PORT: String(port), ADMIN_PORT: String(admin) }, port, signal: false, stabilizeMs: 200 });
  t.after(() => onPort.close());
  assert.deepEqual(onPort.addresses, [`127.0.0.1:${port}`]);
  await activate(root, 'one');
  assert.equal((await onPort.upgrade()).outcome, 'success');
  assert.equal((await get(port, '/')).body, 'one');
});

test('a release that closes its listener within the stabilization window is refused (stopped_listening)', { timeout: 60_000 }, async (t) => {
  const closes = appSource('closes', "server.on('listening', () => setTimeout(() => server.close(), 100));");
  const { root, port, supervisor } = await startCluster(t, { ...plainApps('a'), closes }, { stabilizeMs: 1000 });
  await activate(root, 'closes');
  const result = await supervisor.upgrade();
  assert.equal(result.outcome, 'failure');
  assert.equal(result.error?.code, 'stopped_listening');
  assert.equal((await get(port, '/')).body, 'a');
});

test('with `port`, a first generation that listens elsewhere is refused (wrong_address) and leaves no worker', { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t, 'rs-cluster-');
  await writeApp(root, 'a');
  await activate(root, 'a');
  const [listens, wanted] = [await freePort(), await freePort()];
  await assert.rejects(
    superviseCluster({ release: `${root}/current`, entry: 'server.mjs', workers: 1, env: { PORT: String(listens) }, port: wanted, signal: false, readyTimeoutMs: 1500 }),
    (err: { code?: string; message?: string }) => err.code === 'wrong_address' && err.message!.includes(`port ${wanted}`) && err.message!.includes(`127.0.0.1:${listens}`),
  );
  assert.ok((await get(listens, '/')).error, 'nothing listens any more');
});
