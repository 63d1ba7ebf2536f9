import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { watchTls } from '@reloadscope/config';

// The server starts without a certificate: watchTls loads the pair before it listens. The first
// load is strict (a bad pair rejects with its code); later ones keep serving the old pair.
const server = createServer((_req, res) => res.end('hello over TLS\n'));
const tls = await watchTls({
  server,
  cert: process.env.TLS_CERT ?? 'tls.crt', // leaf first, then the chain
  key: process.env.TLS_KEY ?? 'tls.key',
  minValidityMs: 86_400_000, // refuse a renewal that is valid for less than a day
});

server.listen(Number(process.env.PORT ?? 8443), '127.0.0.1', () => {
  const { serialNumber, validTo } = tls.current;
  console.log(`listening on ${(server.address() as AddressInfo).port}, serving ${serialNumber} until ${validTo.toISOString()}`);
});

// Replace both files (or swap a Secret mount's ..data) and new handshakes get the new certificate;
// connections already open keep theirs. SIGHUP and tls.reload() reload too.
process.on('SIGTERM', async () => {
  await tls.close();
  server.close();
});
