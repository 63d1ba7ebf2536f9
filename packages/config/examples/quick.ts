import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { watchConfig } from '@reloadscope/config';
import { z } from 'zod';

const dir = await mkdtemp(join(tmpdir(), 'quick-'));
const path = join(dir, 'config.yaml');
await writeFile(path, 'greeting: hello\nport: 8080\n');

// Any Standard Schema works (zod, valibot, arktype). The first load is strict: it rejects on a bad config.
const schema = z.object({ greeting: z.string(), port: z.number().int() });
const config = await watchConfig({ path, schema, target: 'app-config', watch: false, signal: false });
config.onChange((next, previous) => {
  if (next.port !== previous.port) throw new Error('port cannot change at runtime'); // rolls the switch back
});

await writeFile(path, 'greeting: bonjour\nport: 8080\n');
console.log((await config.reload()).outcome, config.current.greeting); // success bonjour

await writeFile(path, 'greeting: [unclosed\n');
const broken = await config.reload();
console.log(broken.outcome, broken.error?.code, config.current.greeting); // failure parse_error bonjour

await writeFile(path, 'greeting: hallo\nport: 9090\n');
const refused = await config.reload();
console.log(refused.outcome, refused.error?.code, config.current.greeting); // rollback subscriber_failed bonjour

await config.close();
