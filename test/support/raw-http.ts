/**
 * Hostile HTTP over raw sockets, for the listeners reloadscope opens: what a client library would
 * refuse to send (bad request-targets, CTL bytes, lying lengths, truncated requests) goes on the
 * wire as given.
 */
import { connect } from 'node:net';
import fc from 'fast-check';

export interface Exchange {
  /** Everything the server sent before closing (or before the deadline). */
  data: Buffer;
  /** The server closed the connection (rather than the deadline passing). */
  closed: boolean;
  /** Status codes of the responses received, in order. */
  statuses: number[];
}

/**
 * Send `request`, half-close, and read until the server closes. A server that neither answers nor
 * closes within `timeoutMs` is a hang: `closed` is false then. Node aborts a request still being
 * handled when the client half-closes, so to wait for an asynchronous answer pass `end: false`
 * and send `Connection: close`.
 */
export function exchange(port: number, request: Buffer | string, options: { timeoutMs?: number; localAddress?: string; end?: boolean } = {}): Promise<Exchange> {
  const { timeoutMs = 5000, localAddress, end = true } = options;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      const data = Buffer.concat(chunks);
      resolve({ data, closed, statuses: statusesOf(data) });
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    // A reset after the response (the server closed while we were still sending) is a clean close too.
    socket.on('error', () => {});
    socket.on('close', () => done(true));
    socket.write(request, () => {
      if (end) socket.end();
    });
  });
}

/** Status codes of every status line that starts a response in `data`. */
export function statusesOf(data: Buffer): number[] {
  return [...data.toString('latin1').matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3}) /g)].map((m) => Number(m[1]));
}

/** Well-formed: nothing at all (a clean close), or a status line and a complete header block. */
export function wellFormed(x: Exchange): boolean {
  if (x.data.length === 0) return true;
  const text = x.data.toString('latin1');
  return /^HTTP\/1\.1 [1-5]\d\d [^\r\n]*\r\n/.test(text) && text.includes('\r\n\r\n');
}

// Weighted towards requests the parser accepts, so that most reach the request handler.
const methods = fc.oneof(
  { arbitrary: fc.constantFrom('GET', 'POST', 'HEAD'), weight: 4 },
  fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'PRI', 'post', 'G\0T', ''),
  fc.string({ unit: 'grapheme-ascii', maxLength: 12 }),
);

const targets = (path: string) =>
  fc.oneof(
    { arbitrary: fc.constantFrom('//', 'http://[', `//${path}`, '*', '/%'), weight: 2 },
    fc.constantFrom(
      path,
      `${path}?a=1&b`,
      `${path}#frag`,
      '//',
      '///',
      `//${path}`,
      'http://[',
      'http://[::1',
      `http://[::1]${path}`,
      `http://localhost${path}`,
      `HTTPS://x:99999${path}`,
      'http://%zz/',
      '*',
      'localhost:443',
      '/%00',
      '/%',
      `${path}/../${path}`,
      '',
      ' ',
      '/\0',
      '/\x7f',
      '/\xff',
      `/${'a'.repeat(20_000)}`,
    ),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.webUrl(),
    fc.array(fc.constantFrom('/', '//', '?', '#', '[', ']', '@', ':', '%', '..', '\\', 'http:', path), { maxLength: 8 }).map((a) => a.join('')),
  );

const versions = fc.oneof(
  { arbitrary: fc.constant('HTTP/1.1'), weight: 4 },
  fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/1.1\0', 'http/1.1', '', 'HTTP/1.1 extra'),
);

const headerNames = fc.oneof(
  { arbitrary: fc.constantFrom('Host', 'Authorization', 'Content-Length', 'Transfer-Encoding', 'Connection', 'Expect'), weight: 4 },
  fc.constantFrom('Host', 'Authorization', 'Content-Length', 'Transfer-Encoding', 'Connection', 'Expect', 'Upgrade', 'Content-Type', 'X-Forwarded-For'),
  fc.string({ unit: 'binary', maxLength: 12 }),
);

const headerValues = (token: string) =>
  fc.oneof(
    fc.constantFrom(
      `Bearer ${token}`,
      `bearer ${token}`,
      'Bearer',
      'Bearer ',
      'Basic Zm9vOmJhcg==',
      '0',
      '-1',
      '5',
      '99999999999999999999',
      '1, 2',
      'chunked',
      'gzip, chunked',
      'close',
      'keep-alive',
      'upgrade',
      'websocket',
      '100-continue',
      'h2c',
      'a'.repeat(70_000),
    ),
    fc.string({ unit: 'binary', maxLength: 40 }),
  );

const bodies = fc.oneof(
  fc.constant(''),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.constantFrom('0\r\n\r\n', '5\r\nhello\r\n0\r\n\r\n', 'zz\r\n', 'ffffffffffff\r\n', 'GET / HTTP/1.1\r\n\r\n', 'x'.repeat(100_000)),
);

const visible = (maxLength: number) => fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });

/** Requests the parser accepts (Host present, valid header syntax), so the request handler sees them. */
const parseable = (path: string, token: string) =>
  fc
    .record({
      // The parser knows a fixed method list and refuses the rest (noise below sends those).
      method: fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'SEARCH', 'PURGE'),
      target: fc.oneof(
        fc.constantFrom('//', '///', `//${path}`, 'http://[', 'http://[::1', `http://[::1]${path}`, `http://h${path}`, 'http://%zz/', '*', 'h:443', '/%', `${path}?`, path),
        fc.array(fc.constantFrom('/', '//', '?', '#', '[', ']', '@', ':', '%', '..', 'http:', 'https://', path), { minLength: 1, maxLength: 8 }).map((a) => a.join('')),
        visible(30).map((v) => `/${v}`),
      ),
      version: fc.constantFrom('HTTP/1.1', 'HTTP/1.0'),
      headers: fc.array(
        fc.tuple(
          fc.oneof(fc.constantFrom('Authorization', 'Content-Type', 'Connection', 'Expect', 'Accept', 'Cookie'), fc.stringMatching(/^[A-Za-z0-9-]{1,12}$/)),
          fc.oneof(fc.constantFrom(`Bearer ${token}`, `bearer ${token}`, 'Bearer', 'Basic Zm9v', 'close', 'keep-alive', '100-continue'), visible(40)),
        ),
        { maxLength: 5 },
      ),
      body: fc.oneof(fc.constant(''), visible(100)),
    })
    .map(({ method, target, version, headers, body }) => {
      const lines = [`${method} ${target} ${version}`, 'Host: x', ...headers.map(([n, v]) => `${n}: ${v}`), `Content-Length: ${body.length}`];
      return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'latin1');
    });

/**
 * Raw requests: generated request lines and header sets, bodies that may disagree with their
 * headers, and truncation at any byte. Half are parseable (they reach the request handler), half
 * are noise the HTTP parser itself must refuse. `token` sometimes appears, so authorised paths are hit too.
 */
export function hostileRequests(path: string, token: string): fc.Arbitrary<Buffer> {
  return fc.oneof(parseable(path, token), noise(path, token));
}

function noise(path: string, token: string): fc.Arbitrary<Buffer> {
  return fc
    .record({
      method: methods,
      target: targets(path),
      version: versions,
      headers: fc.array(fc.tuple(headerNames, headerValues(token)), { maxLength: 6 }),
      separator: fc.oneof({ arbitrary: fc.constant('\r\n'), weight: 4 }, fc.constantFrom('\n', '\r', '\r\n\r\n')),
      body: bodies,
      cut: fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, fc.nat()),
    })
    .map(({ method, target, version, headers, separator, body, cut }) => {
      const head = `${method} ${target} ${version}${separator}${headers.map(([n, v]) => `${n}: ${v}${separator}`).join('')}\r\n`;
      const raw = Buffer.from(head + body, 'latin1');
      return cut === null ? raw : raw.subarray(0, cut % (raw.length + 1));
    });
}

/**
 * A slow-loris client: a request line, then one more header line every `everyMs`, never the end
 * of the headers. Resolves with what the server sent and how long it took to close the connection.
 */
export function trickle(port: number, { everyMs = 500, giveUpMs = 20_000 } = {}): Promise<{ data: Buffer; closedAfterMs: number | undefined }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const chunks: Buffer[] = [];
    const socket = connect({ port, host: '127.0.0.1' });
    const drip = setInterval(() => socket.write('X-Slow: 1\r\n'), everyMs);
    const finish = (closedAfterMs: number | undefined) => {
      clearInterval(drip);
      clearTimeout(timer);
      socket.destroy();
      resolve({ data: Buffer.concat(chunks), closedAfterMs });
    };
    const timer = setTimeout(() => finish(undefined), giveUpMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => {});
    socket.on('close', () => finish(Date.now() - started));
    socket.write('POST / HTTP/1.1\r\nHost: x\r\n');
  });
}
