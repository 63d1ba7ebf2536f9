import type { SecureContextOptions, Server } from 'node:tls';

/**
 * Every option `Server#setSecureContext()` builds the new context from, other than the
 * credential. It does not merge: each option its argument leaves out goes back to Node's default,
 * so a context built from `{ cert, key }` alone makes a TLS 1.3-only server accept TLS 1.2 again
 * and an mTLS server refuse the client certificates it trusted. A rotation hands each one back,
 * read from the server itself: they are the properties `setSecureContext()` keeps them in, so a
 * setting changed after watchTls started is kept too.
 */
export const SERVER_SETTINGS = [
  'ca',
  'ciphers',
  'sigalgs',
  'ecdhCurve',
  'dhparam',
  'minVersion',
  'maxVersion',
  'secureProtocol',
  'secureOptions',
  'honorCipherOrder',
  'crl',
  'sessionIdContext',
  'sessionTimeout',
  'clientCertEngine',
  'certificateCompression',
] as const;

/**
 * What a rotation replaces. The old credential's PFX, passphrase or engine key must not outlive it:
 * left in place, a PFX would be loaded after the new cert and key and win.
 */
export const CREDENTIAL_OPTIONS = ['cert', 'key', 'pfx', 'passphrase', 'privateKeyIdentifier', 'privateKeyEngine'] as const;

/**
 * `ticketKeys` is kept through `getTicketKeys()`, not the property: keys set later with
 * `setTicketKeys()` (or the random ones Node made) live in the context only, and new ones would
 * end every session a client could resume.
 */
export const TICKET_KEYS = 'ticketKeys';

export interface Credential {
  cert: Buffer;
  key: Buffer;
  /** The client CA bundle watchTls was asked to manage (`clientCa`); otherwise the server's own `ca` is kept. */
  clientCa?: Buffer;
}

/** The options of a context that serves `credential` with every other setting the server has now. */
export function rotatedContext(server: Server, credential: Credential): SecureContextOptions {
  const own = server as unknown as Record<string, unknown>;
  const options: Record<string, unknown> = {};
  for (const name of SERVER_SETTINGS) options[name] = own[name];
  options[TICKET_KEYS] = server.getTicketKeys();
  for (const name of CREDENTIAL_OPTIONS) options[name] = undefined;
  options.cert = credential.cert;
  options.key = credential.key;
  if (credential.clientCa !== undefined) options.ca = credential.clientCa;
  return options as SecureContextOptions;
}
