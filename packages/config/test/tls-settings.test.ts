/**
 * A rotation changes the certificate and key, and nothing else: every TLS setting the server was
 * created with is still enforced, checked with real clients, before any rotation and after one and
 * after three.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { type ConnectionOptions, createServer, type Server, type TlsOptions } from 'node:tls';
import { type WatchTlsOptions, watchTls } from '../src/index.ts';
import { CREDENTIAL_OPTIONS, SERVER_SETTINGS, TICKET_KEYS } from '../src/server-context.ts';
import { type Issued, TestCA } from '../../../test/support/tls-certs.ts';
import { type Accepted, attempt } from './tls-client.ts';
import { telemetry, tempDir } from './harness.ts';

interface Fixture {
  dir: string;
  serverCa: TestCA;
  /** RSA pairs (DHE suites need an RSA key), served one after the other. */
  pairs: Issued[];
  clientCa: TestCA;
  client: Issued;
  revokedClient: Issued;
  crl: string;
  /** A client certificate issued by the server's CA, which the server's client CA did not issue. */
  stranger: Issued;
  /** RFC 7919 ffdhe3072: a size no default would give. */
  dhparam: string;
  ticketKeys: Buffer;
}

let fx: Fixture;

before(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'rs-tls-settings-'));
  const serverCa = await TestCA.create(join(dir, 'server-ca'), 'reloadscope server CA');
  const clientCa = await TestCA.create(join(dir, 'client-ca'), 'reloadscope client CA');
  const pairs = [];
  for (let i = 0; i < 4; i++) pairs.push(await serverCa.issue({ keyType: 'rsa' }));
  const client = await clientCa.issue({ cn: 'client' });
  const revokedClient = await clientCa.issue({ cn: 'revoked client' });
  await clientCa.revoke(revokedClient);
  const dhparam = execFileSync('openssl', ['genpkey', '-genparam', '-algorithm', 'DH', '-pkeyopt', 'group:ffdhe3072']).toString();
  fx = {
    dir,
    serverCa,
    pairs,
    clientCa,
    client,
    revokedClient,
    crl: await clientCa.crl(),
    stranger: await serverCa.issue({ cn: 'stranger' }),
    dhparam,
    ticketKeys: randomBytes(48),
  };
});
after(() => rm(fx.dir, { recursive: true, force: true }));

interface Probe {
  accepts(options: ConnectionOptions, why: string): Promise<Accepted>;
  refuses(options: ConnectionOptions, why: string): Promise<void>;
}

async function listen(t: TestContext, options: TlsOptions): Promise<{ server: Server; port: number; probe: Probe }> {
  const server = createServer(options, (socket) => socket.end('ok'));
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.after(() => new Promise<void>((ok) => server.close(() => ok())));
  const port = (server.address() as AddressInfo).port;
  const probe: Probe = {
    async accepts(o, why) {
      const r = await attempt(port, fx.serverCa.cert, o);
      assert.ok(r.accepted, `${why}: refused (${r.accepted ? '' : r.reason})`);
      return r;
    },
    async refuses(o, why) {
      const r = await attempt(port, fx.serverCa.cert, o);
      assert.equal(r.accepted, false, `${why}: accepted (${r.accepted ? `${r.protocol} ${r.cipher}` : ''})`);
    },
  };
  return { server, port, probe };
}

/**
 * A server created with `server` settings and the first pair, whose files are then given to
 * watchTls. `before` runs between the two (what the server does as created, untouched) and may
 * return more watchTls options.
 */
async function served(
  t: TestContext,
  server: TlsOptions,
  before: (ctx: { server: Server; probe: Probe; dir: string }) => Promise<Partial<WatchTlsOptions> | undefined> = async () => undefined,
) {
  const dir = await tempDir(t, 'rs-tls-');
  const files = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
  const write = async (pair: Issued) => {
    await writeFile(files.cert, pair.cert);
    await writeFile(files.key, pair.key);
  };
  await write(fx.pairs[0]!);
  const listening = await listen(t, { cert: fx.pairs[0]!.cert, key: fx.pairs[0]!.key, ...server });
  const extra = await before({ ...listening, dir });
  const tel = telemetry();
  t.after(() => tel.shutdown());
  const tls = await watchTls({ server: listening.server, ...files, instrumentation: tel.reloads, watch: false, signal: false, ...extra });
  t.after(() => tls.close());
  return { ...listening, dir, files, write, tls };
}

interface SettingCase {
  setting: string;
  server: () => TlsOptions;
  /** Applied to the server after it is created (settings that have a method of their own). */
  configure?: (server: Server) => void;
  /** A client the setting lets in: the served serial is read through it. */
  client: () => ConnectionOptions;
  /** Asserts, with real clients, that the server still enforces the setting. */
  enforced(probe: Probe, when: string, memo: { session?: Buffer }): Promise<void>;
}

const mtls = () => ({ requestCert: true, rejectUnauthorized: true, ca: fx.clientCa.cert });
const asClient = (c: Issued): ConnectionOptions => ({ cert: c.cert, key: c.key });

/** Resumes the session of the first connection (to the server as created): the server must still accept it. */
async function resumes(probe: Probe, when: string, memo: { session?: Buffer }): Promise<void> {
  if (!memo.session) {
    memo.session = (await probe.accepts({}, `${when}: first connection`)).session;
    assert.ok(memo.session, 'the server issued a session ticket');
  }
  const again = await probe.accepts({ session: memo.session }, `${when}: resumption`);
  assert.equal(again.reused, true, `${when}: the session of the server as created resumes`);
}

const CASES: SettingCase[] = [
  {
    setting: 'minVersion',
    server: () => ({ minVersion: 'TLSv1.3' }),
    client: () => ({}),
    async enforced(p, when) {
      await p.refuses({ maxVersion: 'TLSv1.2' }, `${when}: a TLS 1.2 client on a TLS 1.3-only server`);
      assert.equal((await p.accepts({}, when)).protocol, 'TLSv1.3');
    },
  },
  {
    setting: 'maxVersion',
    server: () => ({ maxVersion: 'TLSv1.2' }),
    client: () => ({}),
    async enforced(p, when) {
      await p.refuses({ minVersion: 'TLSv1.3' }, `${when}: a TLS 1.3-only client on a TLS 1.2-at-most server`);
      assert.equal((await p.accepts({}, when)).protocol, 'TLSv1.2');
    },
  },
  {
    setting: 'secureProtocol',
    server: () => ({ secureProtocol: 'TLSv1_2_method' }),
    client: () => ({}),
    async enforced(p, when) {
      await p.refuses({ minVersion: 'TLSv1.3' }, `${when}: a TLS 1.3-only client on a TLSv1_2_method server`);
      assert.equal((await p.accepts({}, when)).protocol, 'TLSv1.2');
    },
  },
  {
    setting: 'secureOptions',
    server: () => ({ secureOptions: constants.SSL_OP_NO_TLSv1_2 }),
    client: () => ({}),
    async enforced(p, when) {
      await p.refuses({ maxVersion: 'TLSv1.2' }, `${when}: a TLS 1.2 client on an SSL_OP_NO_TLSv1_2 server`);
      assert.equal((await p.accepts({}, when)).protocol, 'TLSv1.3');
    },
  },
  {
    setting: 'ciphers',
    server: () => ({ ciphers: 'TLS_AES_256_GCM_SHA384:ECDHE-RSA-AES256-GCM-SHA384' }),
    client: () => ({}),
    async enforced(p, when) {
      await p.refuses({ ciphers: 'TLS_AES_128_GCM_SHA256' }, `${when}: a TLS 1.3 suite outside the list`);
      await p.refuses({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }, `${when}: a TLS 1.2 cipher outside the list`);
      assert.equal((await p.accepts({ maxVersion: 'TLSv1.2' }, when)).cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
    },
  },
  {
    setting: 'honorCipherOrder',
    // The server lists AES-128 first but lets the client choose: a client preferring AES-256 gets it.
    server: () => ({ honorCipherOrder: false, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384' }),
    client: () => ({}),
    async enforced(p, when) {
      const r = await p.accepts({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256' }, when);
      assert.equal(r.cipher, 'ECDHE-RSA-AES256-GCM-SHA384', `${when}: the client's preference wins`);
    },
  },
  {
    setting: 'ecdhCurve',
    server: () => ({ ecdhCurve: 'P-384' }),
    client: () => ({}),
    async enforced(p, when) {
      await p.refuses({ ecdhCurve: 'X25519' }, `${when}: a client offering only X25519 to a P-384 server`);
      const { ephemeral } = await p.accepts({}, when);
      assert.equal(ephemeral.name, 'secp384r1', `${when}: the key exchange uses the server's curve`);
    },
  },
  {
    setting: 'sigalgs',
    server: () => ({ sigalgs: 'rsa_pss_rsae_sha256' }),
    client: () => ({}),
    async enforced(p, when) {
      await p.refuses({ sigalgs: 'rsa_pss_rsae_sha512' }, `${when}: a client accepting only a signature algorithm outside the list`);
      await p.accepts({ sigalgs: 'rsa_pss_rsae_sha256' }, when);
    },
  },
  {
    setting: 'dhparam',
    server: () => ({ dhparam: fx.dhparam }),
    client: () => ({}),
    async enforced(p, when) {
      // Without the server's parameters no DHE suite is offered at all.
      const r = await p.accepts({ maxVersion: 'TLSv1.2', ciphers: 'DHE-RSA-AES128-GCM-SHA256' }, `${when}: a DHE-only client`);
      assert.equal(r.ephemeral.type, 'DH');
      assert.equal(r.ephemeral.size, 3072, `${when}: the server's own 3072-bit group`);
    },
  },
  {
    setting: 'ca (client certificates required: mTLS)',
    server: mtls,
    client: () => asClient(fx.client),
    async enforced(p, when) {
      await p.accepts(asClient(fx.client), `${when}: a client certificate the server's client CA issued`);
      await p.refuses({}, `${when}: a client without a certificate`);
      await p.refuses(asClient(fx.stranger), `${when}: a client certificate of another CA`);
    },
  },
  {
    setting: 'crl',
    server: () => ({ ...mtls(), crl: fx.crl }),
    client: () => asClient(fx.client),
    async enforced(p, when) {
      await p.refuses(asClient(fx.revokedClient), `${when}: a revoked client certificate`);
      await p.accepts(asClient(fx.client), `${when}: a valid client certificate`);
    },
  },
  {
    setting: 'ticketKeys',
    server: () => ({ ticketKeys: fx.ticketKeys }),
    client: () => ({}),
    enforced: resumes,
  },
  {
    setting: 'ticket keys set with server.setTicketKeys()',
    server: () => ({}),
    configure: (server) => server.setTicketKeys(fx.ticketKeys),
    client: () => ({}),
    enforced: resumes,
  },
  {
    setting: 'sessionIdContext',
    server: () => ({ sessionIdContext: 'reloadscope-test', ticketKeys: fx.ticketKeys }),
    client: () => ({}),
    enforced: resumes,
  },
  {
    setting: 'sessionTimeout',
    server: () => ({ sessionTimeout: 1 }),
    client: () => ({}),
    async enforced(p, when) {
      const { session } = await p.accepts({}, when);
      assert.equal((await p.accepts({ session }, when)).reused, true, `${when}: a fresh session resumes`);
      await new Promise((r) => setTimeout(r, 2_500));
      assert.equal((await p.accepts({ session }, when)).reused, false, `${when}: a session older than sessionTimeout does not resume`);
    },
  },
];

for (const c of CASES) {
  test(`${c.setting}: still enforced once watchTls serves the pair, and after 1 and 3 rotations`, async (t) => {
    const memo = {};
    const { probe, write, tls } = await served(t, c.server(), async ({ server, probe }) => {
      c.configure?.(server);
      await c.enforced(probe, 'as created, before watchTls', memo);
      return undefined;
    });
    await c.enforced(probe, 'after watchTls loaded the same pair', memo);
    for (let i = 1; i <= 3; i++) {
      const next = fx.pairs[i]!;
      await write(next);
      const result = await tls.reload();
      assert.equal(result.outcome, 'success', `rotation ${i}: ${result.error?.code} ${result.error?.message}`);
      assert.equal((await probe.accepts(c.client(), `rotation ${i}`)).serial, next.serial, `rotation ${i} took effect`);
      if (i === 1 || i === 3) await c.enforced(probe, `after ${i} rotation${i > 1 ? 's' : ''}`, memo);
    }
  });
}

/** Rotate to `pair` (and whatever else `change` writes) and check the new pair is what a `client` is served. */
async function rotate(s: Awaited<ReturnType<typeof served>>, pair: Issued, client: ConnectionOptions, change: () => Promise<void> = async () => {}) {
  await s.write(pair);
  await change();
  const result = await s.tls.reload();
  assert.equal(result.outcome, 'success', `${result.error?.code} ${result.error?.message}`);
  assert.equal((await s.probe.accepts(client, 'the rotated pair')).serial, pair.serial);
}

test('`ca` only checks the chain: the server keeps trusting its own client CA, never the CA given to watchTls', async (t) => {
  const s = await served(t, mtls(), async ({ dir }) => {
    await writeFile(join(dir, 'ca.crt'), fx.serverCa.cert);
    return { ca: join(dir, 'ca.crt') };
  });
  for (const [i, when] of [[0, 'after the first load'], [1, 'after a rotation']] as const) {
    if (i > 0) await rotate(s, fx.pairs[i]!, asClient(fx.client));
    await s.probe.accepts(asClient(fx.client), `${when}: a client of the server's own client CA`);
    // Installing the chain's CA as the trust store would let in anyone that CA ever issued a certificate to.
    await s.probe.refuses(asClient(fx.stranger), `${when}: a client certificate issued by the CA watchTls checks the chain against`);
  }
  // The chain check itself still applies.
  const other = await TestCA.create(join(s.dir, 'other-ca'), 'someone else');
  await s.write(await other.issue({ keyType: 'rsa' }));
  const refused = await s.tls.reload();
  assert.equal(refused.error?.code, 'tls_chain_untrusted');
});

test('`clientCa`: the client CA bundle watchTls was asked to manage is installed and rotated with the pair', async (t) => {
  const nextClientCa = await TestCA.create(join(fx.dir, `next-client-ca-${process.hrtime.bigint()}`), 'next client CA');
  const nextClient = await nextClientCa.issue({ cn: 'next client' });
  let clientCaFile = '';
  const s = await served(t, mtls(), async ({ dir }) => {
    clientCaFile = join(dir, 'client-ca.crt');
    await writeFile(clientCaFile, fx.clientCa.cert);
    return { clientCa: clientCaFile };
  });
  await s.probe.accepts(asClient(fx.client), 'a client of the managed client CA');
  await s.probe.refuses(asClient(nextClient), 'a client of a CA not installed yet');

  // A client CA that does not parse is refused; the installed one keeps working.
  await writeFile(clientCaFile, 'not a certificate\n');
  const refused = await s.tls.reload();
  assert.equal(refused.outcome, 'failure');
  assert.equal(refused.error?.code, 'tls_cert_invalid');
  await s.probe.accepts(asClient(fx.client), 'after a refused client CA');

  // The client CA alone changing is a new version.
  await writeFile(clientCaFile, nextClientCa.cert);
  const result = await s.tls.reload();
  assert.equal(result.outcome, 'success', `${result.error?.code} ${result.error?.message}`);
  await s.probe.accepts(asClient(nextClient), 'a client of the newly installed client CA');
  await s.probe.refuses(asClient(fx.client), 'a client of the client CA it replaced');

  // Rotating the pair keeps the managed client CA and every other setting.
  await rotate(s, fx.pairs[1]!, asClient(nextClient));
  await s.probe.refuses(asClient(fx.client), 'after a rotation, the replaced client CA');
  await s.probe.refuses({}, 'after a rotation, a client without a certificate');
});

test('SNI: contexts added with server.addContext() and an SNICallback are left alone; the default context is rotated', async (t) => {
  const otherPair = await fx.serverCa.issue({ cn: 'other.test' });
  const s = await served(t, {}, async ({ server }) => {
    server.addContext('other.test', { cert: otherPair.cert, key: otherPair.key });
    return undefined;
  });
  await rotate(s, fx.pairs[1]!, {});
  const other = await s.probe.accepts({ servername: 'other.test', checkServerIdentity: () => undefined }, 'a client asking for other.test');
  assert.equal(other.serial, otherPair.serial, 'an addContext() hostname keeps its own certificate');

  const sniPair = await fx.serverCa.issue({ cn: 'sni.test' });
  const { createSecureContext } = await import('node:tls');
  const sniContext = createSecureContext({ cert: sniPair.cert, key: sniPair.key });
  const sni = await listen(t, {
    cert: fx.pairs[0]!.cert,
    key: fx.pairs[0]!.key,
    SNICallback: (name, cb) => cb(null, name === 'sni.test' ? sniContext : undefined),
  });
  const dir = await tempDir(t, 'rs-tls-');
  await writeFile(join(dir, 'tls.crt'), fx.pairs[0]!.cert);
  await writeFile(join(dir, 'tls.key'), fx.pairs[0]!.key);
  const tls = await watchTls({ server: sni.server, cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), watch: false, signal: false });
  t.after(() => tls.close());
  await writeFile(join(dir, 'tls.crt'), fx.pairs[2]!.cert);
  await writeFile(join(dir, 'tls.key'), fx.pairs[2]!.key);
  assert.equal((await tls.reload()).outcome, 'success');
  assert.equal((await sni.probe.accepts({}, 'the default context')).serial, fx.pairs[2]!.serial);
  const viaCallback = await sni.probe.accepts({ servername: 'sni.test', checkServerIdentity: () => undefined }, 'a name the SNICallback answers');
  assert.equal(viaCallback.serial, sniPair.serial, "what the SNICallback returns is the application's, untouched");
});

test('the settings a rotation keeps are every option Server#setSecureContext() reads, on this Node', () => {
  // What setSecureContext() reads from its argument is what it resets when the argument lacks it.
  const read = new Set<string>();
  const spy = new Proxy({}, { get: (_target, name) => void (typeof name === 'string' && read.add(name)) });
  createServer().setSecureContext(spy);
  assert.ok(read.has('minVersion') && read.has('ca'), `the spy saw the reads (${[...read].join(', ')})`);
  const handled = new Set<string>([...SERVER_SETTINGS, ...CREDENTIAL_OPTIONS, TICKET_KEYS]);
  assert.deepEqual([...read].filter((name) => !handled.has(name)), [], 'an option setSecureContext() reads that a rotation neither keeps nor replaces');
});

test('server must be a Node TLS server: a look-alike with setSecureContext() is refused, naming the option; so is a bad clientCa', async () => {
  const lookAlike = { setSecureContext() {} } as unknown as Server;
  await assert.rejects(watchTls({ server: lookAlike, cert: 'tls.crt', key: 'tls.key' }), {
    name: 'TypeError',
    message: /^watchTls: options\.server must be a tls\.Server, https\.Server or http2 secure server, got /,
  });
  for (const clientCa of [42, '', 'a\0b']) {
    await assert.rejects(watchTls({ server: createServer(), cert: 'tls.crt', key: 'tls.key', clientCa: clientCa as string, signal: false }), {
      name: 'TypeError',
      message: /^watchTls: options\.clientCa must be a non-empty string/,
    });
  }
});
