// Deploy step: write an immutable release, then switch `current` to it atomically.
import { activateBundle, writeRelease } from '@reloadscope/config';

const [root = './bundle', version = `r${Date.now()}`] = process.argv.slice(2);

await writeRelease(root, version, {
  'config.yaml': 'greeting: hello\nport: 8080\n',
  'rules/limits.json': JSON.stringify({ rps: 100 }),
});
const result = await activateBundle({ root, version, keep: 3, trigger: 'api' });
console.log(`${result.outcome} ${result.version ?? ''} ${result.error?.code ?? ''}`.trim());
process.exitCode = result.outcome === 'success' || result.outcome === 'unchanged' ? 0 : 1;
