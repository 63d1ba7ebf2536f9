import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import fc from 'fast-check';
import { seriesValue, testMeterProvider } from '../../../test/support/metrics.ts';
import { exchange, hostileRequests, trickle, wellFormed } from '../../../test/support/raw-http.ts';
import { assertSurvivesSlowLoris } from '../../../test/support/slow-loris.ts';
import { AuthThrottle, clientKey, MAX_TRACKED_CLIENTS } from '../src/auth-throttle.ts';
import { type ConfigDiagnostic, createReloadHandler, listenForReloads, type ReloadListenerOptions, watchConfig } from '../src/index.ts';
import { diagnostics, sleep, tempDir } from './harness.ts';

const TOKEN = 'correct-horse-battery-staple';
const WRONG = 'wrong-token-GUESS-4242';

async function start(t: TestContext, options: Partial<ReloadListenerOptions> = {}) {
  const dir = await tempDir(t);
  const file = join(dir, 'hostile.json');
  await writeFile(file, '{"v":1}');
  const config = await watchConfig({ path: file, watch: false, signal: false });
  t.after(() => config.close());
  const { reader, meterProvider } = testMeterProvider();
  t.after(() => meterProvider.shutdown());
  const seen = diagnostics();
  const listener = await listenForReloads(config, { token: TOKEN, meterProvider, onDiagnostic: seen.sink, ...options });
  t.after(() => listener.close());
  const failures = (reason: string) => seriesValue(reader, 'hotreload.http.auth_failures', { 'hotreload.auth.reason': reason });
  return { listener, config, failures, diags: seen.seen as ConfigDiagnostic[] };
}

/** A POST from a chosen loopback source address (all of 127/8 is local on Linux). */
function postFrom(url: string, authorization: string | undefined, localAddress = '127.0.0.1') {
  return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    const req = request(url, { method: 'POST', localAddress, agent: false, headers: authorization === undefined ? {} : { authorization } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => {
        body += d;
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the request-targets that killed the process (//, http://[) get 404 and 400, and the listener keeps serving', async (t) => {
  const { listener } = await start(t);
  // `//` is a legal origin-form path (empty segments), just not this one; the others name no path.
  const expected: Array<[string, number]> = [['//', 404], ['//reload', 404], ['http://[', 400], ['*', 400], ['localhost:443', 400]];
  for (const [target, status] of expected) {
    const x = await exchange(listener.port, `POST ${target} HTTP/1.1\r\nHost: x\r\n\r\n`);
    assert.deepEqual(x.statuses, [status], target);
    assert.ok(x.closed, `${target}: the connection is closed after an unrouted answer`);
  }
  // Absolute-form must be accepted by a server (RFC 9112 §3.2.2), and routes like origin-form.
  const abs = await exchange(listener.port, `POST http://localhost${new URL(listener.url).pathname} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`, { end: false });
  assert.deepEqual(abs.statuses, [200]);
  assert.equal((await postFrom(listener.url, `Bearer ${TOKEN}`)).status, 200);
});

test('fuzz: any request line, header set and body gets a well-formed answer or a clean close; the listener never stops', async (t) => {
  const { listener } = await start(t, { authThrottle: { failures: 1_000_000 }, rateLimit: { burst: 1_000_000, perSecond: 1000 } });
  const normal = `GET ${new URL(listener.url).pathname} HTTP/1.1\r\nHost: x\r\n\r\n`;
  await fc.assert(
    fc.asyncProperty(hostileRequests(new URL(listener.url).pathname, TOKEN), async (raw) => {
      const x = await exchange(listener.port, raw);
      assert.ok(x.closed, `hang on ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
      assert.ok(wellFormed(x), `malformed answer ${JSON.stringify(x.data.toString('latin1').slice(0, 200))}`);
      assert.ok(x.statuses.every((s) => s < 500), `server error ${x.statuses} for ${JSON.stringify(raw.toString('latin1').slice(0, 200))}`);
      assert.deepEqual((await exchange(listener.port, normal)).statuses, [405], 'still serving after it');
    }),
    { seed: 1101, numRuns: 250 },
  );
  assert.equal((await postFrom(listener.url, `Bearer ${TOKEN}`)).status, 200);
});

test('the Bearer scheme is case-insensitive (RFC 9110 §11.1)', async (t) => {
  const { listener } = await start(t);
  for (const scheme of ['bearer', 'BEARER', 'BeArEr']) assert.equal((await postFrom(listener.url, `${scheme} ${TOKEN}`)).status, 200, scheme);
  assert.equal((await postFrom(listener.url, `Bearer  ${TOKEN} `)).status, 200, 'extra spaces around the token');
  assert.equal((await postFrom(listener.url, `Bearer ${TOKEN} x`)).status, 401, 'one token only');
  assert.equal((await postFrom(listener.url, `Bearerx ${TOKEN}`)).status, 401);
});

test('failed authentications are throttled per client: 429 with Retry-After, other clients unaffected, free again after the window', async (t) => {
  const { listener } = await start(t, { authThrottle: { failures: 3, windowSeconds: 1 } });
  for (let i = 0; i < 3; i++) assert.equal((await postFrom(listener.url, `Bearer ${WRONG}${i}`)).status, 401);
  const refused = await postFrom(listener.url, `Bearer ${WRONG}`);
  assert.equal(refused.status, 429);
  assert.equal(refused.headers['retry-after'], '1');
  assert.equal(JSON.parse(refused.body).error, 'too_many_failures');
  // While refused, even the right token is not looked at: a guess cannot be confirmed.
  assert.equal((await postFrom(listener.url, `Bearer ${TOKEN}`)).status, 429);
  // Another client is not locked out by the first one's failures.
  assert.equal((await postFrom(listener.url, `Bearer ${TOKEN}`, '127.0.0.2')).status, 200);
  await sleep(1100);
  assert.equal((await postFrom(listener.url, `Bearer ${TOKEN}`)).status, 200, 'free again after the window');
});

test('auth failures are counted by reason, and said once per burst without the token', async (t) => {
  const { listener, failures, diags } = await start(t, { authThrottle: { failures: 3, windowSeconds: 0.5 } });
  assert.equal(await failures('wrong'), 0, 'each reason exists at 0 once the trigger listens');
  assert.equal((await postFrom(listener.url, undefined)).status, 401);
  assert.equal((await postFrom(listener.url, `Basic ${Buffer.from(`u:${WRONG}`).toString('base64')}`)).status, 401);
  assert.equal((await postFrom(listener.url, `Bearer ${WRONG}`)).status, 401);
  for (let i = 0; i < 5; i++) assert.equal((await postFrom(listener.url, `Bearer ${WRONG}`)).status, 429);
  assert.equal(await failures('missing'), 1);
  assert.equal(await failures('malformed'), 1);
  assert.equal(await failures('wrong'), 1);
  assert.equal(await failures('throttled'), 5);
  assert.equal(diags.length, 1, 'one line for the burst, not one per failure');
  assert.equal(diags[0]!.code, 'auth_throttled');
  assert.match(diags[0]!.message, /3 failed authentications from 127\.0\.0\.1/);

  await sleep(600);
  for (let i = 0; i < 4; i++) await postFrom(listener.url, `Bearer ${WRONG}`);
  assert.equal(diags.length, 2, 'a second burst is a second line');
  assert.equal(await failures('wrong'), 4);
  for (const d of diags) {
    assert.ok(!d.message.includes(WRONG) && !d.message.includes('GUESS') && !d.message.includes(TOKEN), d.message);
    assert.ok(!/authorization|bearer/i.test(d.message), 'nothing of the header');
  }
});

test('the client table is bounded; clients beyond it share one budget, so further addresses buy no more guesses', () => {
  let now = 0;
  const bursts: Array<string | undefined> = [];
  const throttle = new AuthThrottle({ failures: 3, windowSeconds: 60 }, (b) => bursts.push(b.client), () => now);
  for (let i = 0; i < 10 * MAX_TRACKED_CLIENTS; i++) {
    const client = `10.0.${i >> 8}.${i & 255}`;
    if (throttle.retryAfter(client) === 0) throttle.failed(client);
  }
  assert.ok(throttle.size <= MAX_TRACKED_CLIENTS, `${throttle.size} entries`);
  assert.deepEqual(bursts, [undefined], 'the overflow budget was used up once, and said once');
  assert.ok(throttle.retryAfter('192.0.2.1') > 0, 'a new address while the table is full shares the refusal');
  assert.equal(throttle.retryAfter('10.0.0.0'), 0, 'a tracked client below its limit is still examined');
  now += 61_000;
  assert.equal(throttle.retryAfter('192.0.2.1'), 0, 'everything expires with its window');
  throttle.failed('192.0.2.1');
  assert.equal(throttle.size, 1, 'expired entries are swept when room is needed');
  // The options are checked where every HTTP option is: at createReloadHandler / listenForReloads.
  const reloadable = { reload: () => new Promise<never>(() => {}) };
  assert.throws(() => createReloadHandler(reloadable, { token: 'token-0123456789', authThrottle: { failures: 0 } }), /options\.authThrottle\.failures must be/);
  assert.throws(() => createReloadHandler(reloadable, { token: 'token-0123456789', authThrottle: { windowSeconds: Number.NaN } }), /options\.authThrottle\.windowSeconds must be/);
});

test('concurrent connections are capped: with every slot busy a new one is closed on accept and a finished one frees its slot; a silent one gives its slot up', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'capped.json');
  await writeFile(file, '{"v":1}');
  const config = await watchConfig({ path: file, watch: false, signal: false });
  t.after(() => config.close());
  // Reloads wait for the gate, so the requests that make them hold their connections busy.
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const gated = {
    reload: async (o: { trigger: 'http' }) => {
      await gate;
      return config.reload(o);
    },
  };
  const listener = await listenForReloads(gated, { token: TOKEN, maxConnections: 2, rateLimit: { burst: 100 } });
  t.after(() => listener.close());
  const authorised = `POST /reload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`;
  const busy = [exchange(listener.port, authorised, { end: false }), exchange(listener.port, authorised, { end: false })];
  await sleep(100); // both requests are being handled
  const refused = await exchange(listener.port, authorised, { end: false });
  assert.ok(refused.closed);
  assert.deepEqual(refused.statuses, [], 'every slot busy with a request: closed on accept, nothing served');
  open();
  for (const x of await Promise.all(busy)) assert.deepEqual(x.statuses, [200], 'the busy requests were never cut');
  await sleep(50);

  // Silent connections hold no slot against a real request: the oldest gives its slot up.
  const connectSilent = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const s = connect(listener.port, '127.0.0.1', () => resolve(s)).on('error', reject);
      s.resume(); // reading, so that a close by the server is noticed
    });
  const silent = [await connectSilent(), await connectSilent()];
  t.after(() => {
    for (const s of silent) s.destroy();
  });
  const closed = silent.map((s) => new Promise<void>((resolve) => s.once('close', () => resolve())));
  await sleep(50);
  assert.equal((await postFrom(listener.url, `Bearer ${TOKEN}`)).status, 200, 'served while the slots were held by silent clients');
  await closed[0];
  assert.equal(silent[1]!.destroyed, false, 'only the oldest silent connection was closed');
});

test('bodies are capped: a declared or streamed body over 64 KiB gets 413 and the connection closed', async (t) => {
  const { listener } = await start(t);
  const declared = await exchange(listener.port, `POST /reload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 10000000\r\n\r\n`, { end: false });
  assert.deepEqual(declared.statuses, [413]);
  assert.ok(declared.closed, 'closed without waiting for 10 MB');
  const chunk = 'x'.repeat(16 * 1024);
  const chunked = `POST /reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nAuthorization: Bearer wrong-one-of-length\r\n\r\n${`4000\r\n${chunk}\r\n`.repeat(8)}`;
  const streamed = await exchange(listener.port, chunked, { end: false });
  assert.ok(streamed.closed, 'the connection is closed rather than drained forever');
  assert.ok(streamed.statuses.length <= 1 && streamed.statuses.every((s) => s === 401 || s === 413), String(streamed.statuses));
  assert.equal((await postFrom(listener.url, `Bearer ${TOKEN}`)).status, 200);
});

test('malformed request lines and oversized headers get Node’s 400 and 431, never a silent reset', async (t) => {
  const { listener } = await start(t);
  assert.deepEqual((await exchange(listener.port, 'POST /reload\0 HTTP/1.1\r\n\r\n')).statuses, [400]);
  assert.deepEqual((await exchange(listener.port, 'NOT A REQUEST\r\n\r\n')).statuses, [400]);
  assert.deepEqual((await exchange(listener.port, `POST /reload HTTP/1.1\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`)).statuses, [431]);
});

test('a diagnostic sink that throws changes no answer', async (t) => {
  const { listener } = await start(t, {
    authThrottle: { failures: 2 },
    onDiagnostic: () => {
      throw new Error('sink broke');
    },
  });
  assert.equal((await postFrom(listener.url, `Bearer ${WRONG}`)).status, 401);
  assert.equal((await postFrom(listener.url, `Bearer ${WRONG}`)).status, 401, 'the burst line is attempted here');
  assert.equal((await postFrom(listener.url, `Bearer ${WRONG}`)).status, 429);
});

test('an IPv6 client counts as its /64 (one host can rotate through it), a mapped IPv4 one as its IPv4 address', () => {
  assert.equal(clientKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.equal(clientKey('2001:db8::'), '2001:db8:0:0::/64');
  assert.equal(clientKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(clientKey('::1'), '0:0:0:0::/64');
  assert.equal(clientKey('::ffff:192.0.2.7'), '192.0.2.7');
  assert.equal(clientKey('192.0.2.7'), '192.0.2.7');
  const bursts: Array<string | undefined> = [];
  const throttle = new AuthThrottle({ failures: 3, windowSeconds: 60 }, (b) => bursts.push(b.client));
  for (let i = 1; i <= 3; i++) throttle.failed(`2001:db8:1:2::${i.toString(16)}`);
  assert.ok(throttle.retryAfter('2001:db8:1:2:ffff::9') > 0, 'a fresh address in the same /64 is refused');
  assert.equal(throttle.retryAfter('2001:db8:1:3::1'), 0, 'the next /64 is another client');
  assert.deepEqual(bursts, ['2001:db8:1:2::/64']);
});

test('slow loris: headers that never end are cut off after 10 s with 408', async (t) => {
  const { listener } = await start(t);
  const slow = await trickle(listener.port);
  assert.ok(slow.closedAfterMs !== undefined, 'the server closed the connection (Node alone waits 60 s, checked every 30 s)');
  assert.ok(slow.closedAfterMs >= 9_000 && slow.closedAfterMs < 15_000, `closed after ${slow.closedAfterMs} ms`);
  assert.match(slow.data.toString('latin1'), /^HTTP\/1\.1 408 /);
});

test('slow loris crowd: silent connections filling every slot, re-opened as they are closed, never keep an authorised request out, and each is cut at the 10 s header limit', { timeout: 90_000 }, async (t) => {
  const { listener } = await start(t, { rateLimit: { burst: 1000, perSecond: 1000 } });
  await assertSurvivesSlowLoris({
    port: listener.port,
    maxConnections: 16,
    headersTimeoutMs: 10_000,
    request: async () => (await postFrom(listener.url, `Bearer ${TOKEN}`).catch(() => undefined))?.status,
  });
});
