// The service both process managers reload in reload-vs-pm2: a plain keep-alive HTTP server.
// CommonJS so PM2's cluster container can require() it as it does most apps in the wild.
const { createServer } = require('node:http');

const server = createServer((_req, res) => {
  res.setHeader('content-type', 'text/plain');
  res.end(`ok ${process.pid}\n`);
});
server.keepAliveTimeout = 5000;
server.listen(Number(process.env.PORT), '127.0.0.1');
