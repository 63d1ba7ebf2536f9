/**
 * Real certificates for the TLS tests, made with the openssl CLI: `openssl ca` is the one openssl
 * 3.0 command that takes arbitrary start and end dates, which expired and not-yet-valid leaves need.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const DAY = 86_400_000;

const CA_CONFIG = `[ ca ]
default_ca = CA_default
[ CA_default ]
dir = .
database = ./index.txt
new_certs_dir = ./issued
serial = ./serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = copy
default_crl_days = 30
[ policy_any ]
commonName = supplied
`;

export interface Issued {
  cert: string;
  key: string;
  /** Uppercase hex, as X509Certificate and getPeerCertificate() report it. */
  serial: string;
  notAfter: Date;
}

const stamp = (d: Date) => `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;

export class TestCA {
  readonly dir: string;
  readonly cert: string;
  #issued = 0;
  /** The file `openssl ca` needs to revoke a leaf, by serial. */
  readonly #files = new Map<string, string>();

  private constructor(dir: string, cert: string) {
    this.dir = dir;
    this.cert = cert;
  }

  static async create(dir: string, name = 'reloadscope test CA'): Promise<TestCA> {
    await mkdir(join(dir, 'issued'), { recursive: true });
    await writeFile(join(dir, 'ca.cnf'), CA_CONFIG);
    await writeFile(join(dir, 'index.txt'), '');
    // A random start serial per CA: two CAs in one test never issue the same serial.
    await writeFile(join(dir, 'serial'), `${(0x1000 + Math.floor(Math.random() * 0xefff)).toString(16).toUpperCase()}00\n`);
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-subj', `/CN=${name}`, '-days', '3650'], { cwd: dir });
    return new TestCA(dir, await readFile(join(dir, 'ca.pem'), 'utf8'));
  }

  /**
   * A leaf for localhost/127.0.0.1, valid from `notBefore` to `notAfter` (default: yesterday to +90 days),
   * with a P-256 key (default) or an RSA-2048 one (what DHE cipher suites need). With no extended
   * key usage it serves as a server or a client certificate.
   */
  async issue(options: { notBefore?: Date; notAfter?: Date; cn?: string; keyType?: 'ec' | 'rsa' } = {}): Promise<Issued> {
    const now = Date.now();
    const notBefore = options.notBefore ?? new Date(now - DAY);
    const notAfter = options.notAfter ?? new Date(now + 90 * DAY);
    const n = ++this.#issued;
    const key = `leaf-${n}.key`;
    const csr = `leaf-${n}.csr`;
    const out = `leaf-${n}.pem`;
    const dir = this.dir;
    await run(
      'openssl',
      ['req', ...(options.keyType === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']), '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${options.cn ?? 'localhost'}`, '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      { cwd: dir },
    );
    await run('openssl', ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-in', csr, '-out', out, '-startdate', stamp(notBefore), '-enddate', stamp(notAfter), '-notext'], { cwd: dir });
    const cert = await readFile(join(dir, out), 'utf8');
    const { stdout } = await run('openssl', ['x509', '-in', out, '-noout', '-serial'], { cwd: dir });
    const serial = stdout.trim().replace(/^serial=/, '');
    this.#files.set(serial, out);
    // `openssl ca` truncates the dates to whole seconds.
    return { cert, key: await readFile(join(dir, key), 'utf8'), serial, notAfter: new Date(Math.floor(notAfter.getTime() / 1000) * 1000) };
  }

  /** Revoke a leaf this CA issued; the next `crl()` lists it. */
  async revoke(leaf: Issued): Promise<void> {
    const file = this.#files.get(leaf.serial);
    if (!file) throw new Error(`serial ${leaf.serial} was not issued by this CA`);
    await run('openssl', ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-revoke', file], { cwd: this.dir });
  }

  /** A PEM CRL signed by this CA, listing every leaf revoked so far. */
  async crl(): Promise<string> {
    await run('openssl', ['ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.pem', '-keyfile', 'ca.key', '-gencrl', '-out', 'crl.pem'], { cwd: this.dir });
    return readFile(join(this.dir, 'crl.pem'), 'utf8');
  }
}

export interface ServedPair {
  ca: TestCA;
  first: Issued;
  cert: string;
  key: string;
  /** Write a pair over the files in place (cert first, then key, as a renewal does). */
  write(pair: Issued): Promise<void>;
}

/** A CA in `dir/ca` and its first leaf written to `dir/tls.crt` + `dir/tls.key`: the layout the tests serve. */
export async function servedPair(dir: string): Promise<ServedPair> {
  const ca = await TestCA.create(join(dir, 'ca'));
  const first = await ca.issue();
  const cert = join(dir, 'tls.crt');
  const key = join(dir, 'tls.key');
  const write = async (pair: Issued) => {
    await writeFile(cert, pair.cert);
    await writeFile(key, pair.key);
  };
  await write(first);
  return { ca, first, cert, key, write };
}
