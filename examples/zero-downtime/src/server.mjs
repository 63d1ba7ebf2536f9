// The service: a plain Node HTTP server. Nothing in it knows about the supervisor.
import { createServer } from 'node:http';

const RELEASE = '__RELEASE__'; // stamped by deploy.ts
const server = createServer((req, res) => {
  if (req.url === '/healthz') return void res.end('ok\n');
  res.setHeader('content-type', 'text/plain');
  res.end(`hello from release ${RELEASE} (worker ${process.pid})\n`);
});
server.listen(Number(process.env.PORT ?? 3000));
