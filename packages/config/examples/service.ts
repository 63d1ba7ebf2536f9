// A small HTTP service whose config reloads on file change, SIGHUP and an admin endpoint.
import { createServer } from 'node:http';
import { createReloadHandler, watchConfig } from '@reloadscope/config';
import { z } from 'zod';

const schema = z.object({
  greeting: z.string(),
  port: z.number().int().min(0).max(65535),
  refreshSeconds: z.number().positive().default(30),
});

// Rejects (with err.code such as 'parse_error') if the first load fails: never start on a bad config.
const config = await watchConfig({ path: './config.yaml', schema, target: 'greeter-config' });

// Work tied to one version: the version's signal aborts when a newer version replaces it.
function startRefresher(signal: AbortSignal, seconds: number) {
  const timer = setInterval(() => console.log('refreshing'), seconds * 1000);
  signal.addEventListener('abort', () => clearInterval(timer), { once: true });
}
startRefresher(config.versionSignal, config.current.refreshSeconds);

config.onChange((next, previous, { signal, hash }) => {
  if (next.port !== previous.port) throw new Error('port cannot change at runtime'); // rolls back
  startRefresher(signal, next.refreshSeconds);
  console.log(`config ${hash.slice(0, 12)} active: greeting=${next.greeting}`);
});

const reloadHandler = createReloadHandler(config, { token: process.env.RELOAD_TOKEN ?? 'change-me-please' });
const server = createServer((req, res) => {
  if (req.url === '/admin/reload') return void reloadHandler(req, res);
  res.end(`${config.current.greeting}\n`); // always the active, validated value
});
server.listen(config.current.port, '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening on ${typeof address === 'object' && address ? address.port : '?'}`);
});

process.once('SIGTERM', async () => {
  await config.close();
  server.close();
});
