// Deploy step: write a signed, immutable release, then switch `current` to it atomically.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { activateBundle, writeRelease } from '@reloadscope/config';

const [root = './bundle', version = `r${Date.now()}`] = process.argv.slice(2);

// The build system holds the private key and deploy hosts only the public one; this demo makes
// a key on first run so that it runs anywhere.
const keyFile = process.env.RELEASE_KEY ?? './release-key.pem';
if (!existsSync(keyFile)) {
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
}
const privateKey = readFileSync(keyFile);
const publicKey = createPublicKey(privateKey);

await writeRelease(
  root,
  version,
  { 'config.yaml': 'greeting: hello\nport: 8080\n', 'rules/limits.json': JSON.stringify({ rps: 100 }) },
  // A serial that only grows (a CI build number): it is signed along with the manifest.
  { serial: Number(process.env.RELEASE_SERIAL ?? Date.now()), privateKey },
);
const result = await activateBundle({
  root,
  version,
  keep: 3,
  trigger: 'api',
  // Refuse unsigned or tampered releases, and signed ones older than what was deployed before.
  // The state file lives outside the bundle root, where the release writer cannot reset it.
  verify: { publicKey, serial: { stateFile: './deploy-state.json' } },
});
console.log(`${result.outcome} ${result.version ?? ''} ${result.error?.code ?? ''}`.trim());
process.exitCode = result.outcome === 'success' || result.outcome === 'unchanged' ? 0 : 1;
