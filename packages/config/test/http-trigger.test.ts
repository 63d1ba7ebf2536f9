import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createReloadHandler, listenForReloads, watchConfig } from '../src/index.ts';
import { telemetry, tempDir } from './harness.ts';

const TOKEN = 'correct-horse-battery-staple';
const SECRET = 'SECRET-MARKER-7f3a9';

async function startConfig(t: TestContext) {
  const dir = await tempDir(t);
  const file = join(dir, 'http.json');
  await writeFile(file, JSON.stringify({ v: 1, password: SECRET }));
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const config = await watchConfig<{ v: number }>({ path: file, instrumentation: tel.reloads, watch: false, signal: false });
  t.after(() => config.close());
  return { file, tel, config };
}

const post = (url: string, token?: string) =>
  fetch(url, { method: 'POST', headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

test('standalone listener: loopback by default, POST only, bearer token, result summary without content', async (t) => {
  const { file, tel, config } = await startConfig(t);
  const listener = await listenForReloads(config, { token: TOKEN, rateLimit: { burst: 10, perSecond: 1 } });
  t.after(() => listener.close());
  assert.equal(listener.host, '127.0.0.1');

  const get = await fetch(listener.url);
  assert.equal(get.status, 405);
  assert.equal(get.headers.get('allow'), 'POST');
  assert.equal((await post(listener.url)).status, 401);
  assert.equal((await post(listener.url, 'wrong-token-of-some-length')).status, 401);
  assert.equal((await post(listener.url, TOKEN.slice(0, -1))).status, 401);
  assert.equal((await fetch(listener.url.replace('/reload', '/other'), { method: 'POST' })).status, 404);

  await writeFile(file, JSON.stringify({ v: 2, password: SECRET }));
  const ok = await post(listener.url, TOKEN);
  assert.equal(ok.status, 200);
  const text = await ok.text();
  const body = JSON.parse(text);
  assert.equal(body.outcome, 'success');
  assert.equal(body.trigger, 'http');
  assert.equal(body.hash, config.hash);
  assert.equal(config.current.v, 2);
  assert.ok(!text.includes(SECRET), 'the response never carries config content');
  assert.equal(await tel.metric('hotreload.reloads', { 'hotreload.target': 'http.json', 'hotreload.trigger': 'http', 'hotreload.outcome': 'success' }), 1);

  // A rejected version is a 200 too: the request worked, the outcome says the reload did not.
  await writeFile(file, `{"v": 3, "password": "${SECRET}"`);
  const bad = (await (await post(listener.url, TOKEN)).json()) as { outcome: string; error: { code: string } };
  assert.equal(bad.outcome, 'failure');
  assert.equal(bad.error.code, 'parse_error');
  assert.ok(!JSON.stringify(bad).includes(SECRET));
  assert.equal(config.current.v, 2);
});

test('a burst of requests is rate-limited with 429', async (t) => {
  const { config } = await startConfig(t);
  const listener = await listenForReloads(config, { token: TOKEN, rateLimit: { burst: 3, perSecond: 0.1 } });
  t.after(() => listener.close());
  const statuses = await Promise.all(Array.from({ length: 10 }, () => post(listener.url, TOKEN).then((r) => r.status)));
  assert.equal(statuses.filter((s) => s === 200).length, 3);
  assert.equal(statuses.filter((s) => s === 429).length, 7);
});

test('the default listener is not reachable on a non-loopback address', async (t) => {
  const external = Object.values(networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  const { config } = await startConfig(t);
  const listener = await listenForReloads(config, { token: TOKEN });
  t.after(() => listener.close());
  assert.equal(listener.host, '127.0.0.1');
  if (external) {
    await assert.rejects(post(`http://${external}:${listener.port}/reload`, TOKEN), (err: Error & { cause?: { code?: string } }) => err.cause?.code === 'ECONNREFUSED');
  } else {
    t.diagnostic('no non-loopback IPv4 interface on this machine; checked the bound address only');
  }
});

test("the handler works inside the user's own server", async (t) => {
  const { file, config } = await startConfig(t);
  const handler = createReloadHandler(config, { token: TOKEN });
  const server = createServer((req, res) => {
    if (req.url === '/admin/reload') return void handler(req, res);
    res.end('app');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await writeFile(file, JSON.stringify({ v: 5, password: SECRET }));
  assert.equal((await fetch(`${base}/admin/reload`)).status, 405);
  const res = await post(`${base}/admin/reload`, TOKEN);
  assert.equal(res.status, 200);
  assert.equal(((await res.json()) as { outcome: string }).outcome, 'success');
  assert.equal(config.current.v, 5);
  assert.throws(() => createReloadHandler(config, { token: '' }), TypeError);
});

test('watchConfig({ http }) starts the listener and close() stops it', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'c.json');
  await writeFile(file, '{"v":1}');
  const config = await watchConfig({ path: file, watch: false, signal: false, http: { token: TOKEN } });
  const url = config.http?.url;
  assert.ok(url);
  assert.equal((await post(url, TOKEN)).status, 200);
  await config.close();
  await assert.rejects(post(url, TOKEN));
});
