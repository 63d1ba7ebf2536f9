import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * The connection bounds of every HTTP listener reloadscope opens (register's metrics endpoint,
 * config's reload listener, the cluster's instance endpoint), kept here so that all three state
 * and enforce the same limits. Core opens no socket: the listeners hand their server in.
 *
 * Why not Node's own bounds alone: `headersTimeout` is checked only every
 * `connectionsCheckingInterval` (30 s by default), and `server.maxConnections` refuses the *new*
 * connection when the slots are full, so a handful of connections that never send a byte keep
 * every real scrape out until the check finally runs.
 */

/** A connection must deliver its request headers within this long of opening (or of its previous response). */
export const LISTENER_HEADERS_TIMEOUT_MS = 10_000;
/** Node's bound on receiving a whole request (headers and body), checked every second. */
export const LISTENER_REQUEST_TIMEOUT_MS = 30_000;

/** `http.createServer()` options that go with `guardListener()`. */
export const LISTENER_SERVER_OPTIONS: ServerOptions = {
  headersTimeout: LISTENER_HEADERS_TIMEOUT_MS,
  requestTimeout: LISTENER_REQUEST_TIMEOUT_MS,
  // Node's default is 30 s: a body trickled past requestTimeout would be cut up to 30 s late.
  connectionsCheckingInterval: 1000,
};

// What Node itself answers when a request's headers time out.
const TIMED_OUT = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n';

interface Connection {
  /** Requests being answered on it (more than one when pipelined). */
  busy: number;
  /** It has had a response: an idle keep-alive connection is closed without a 408. */
  served: boolean;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Bound `server`'s connections:
 *
 * - each connection must complete its request headers within `LISTENER_HEADERS_TIMEOUT_MS` of
 *   opening, or of its previous response, or it is closed (with Node's 408 if it never had a
 *   response) — by its own timer, at the limit, not at the next periodic check;
 * - at most `maxConnections` at once; when all are taken, a new connection closes the oldest one
 *   that is waiting for a request (a silent or trickling client, an idle keep-alive one) and takes
 *   its place. Only when every connection is busy with a request is the new one closed.
 *
 * So clients that never finish a request can delay a real one by nothing, and hold no connection
 * past the limit. Call it before `listen()`, on a server created with `LISTENER_SERVER_OPTIONS`,
 * instead of setting `server.maxConnections`.
 */
export function guardListener(server: Server, maxConnections: number): void {
  const connections = new Map<Socket, Connection>();
  // Waiting connections, oldest first (a Set iterates in insertion order).
  const waiting = new Set<Socket>();

  const forget = (socket: Socket) => {
    const c = connections.get(socket);
    if (!c) return;
    clearTimeout(c.timer);
    connections.delete(socket);
    waiting.delete(socket);
  };
  const cut = (socket: Socket) => {
    const c = connections.get(socket);
    forget(socket);
    if (c && !c.served && socket.writable) socket.write(TIMED_OUT);
    socket.destroy();
  };
  const wait = (socket: Socket, c: Connection) => {
    waiting.delete(socket);
    waiting.add(socket);
    clearTimeout(c.timer);
    c.timer = setTimeout(cut, LISTENER_HEADERS_TIMEOUT_MS, socket);
    c.timer.unref();
  };

  server.on('connection', (socket: Socket) => {
    if (connections.size >= maxConnections) {
      const oldest = waiting.values().next();
      if (oldest.done) return void socket.destroy();
      cut(oldest.value);
    }
    const c: Connection = { busy: 0, served: false, timer: undefined };
    connections.set(socket, c);
    wait(socket, c);
    socket.once('close', () => forget(socket));
  });

  // Before the request handler: a handler may answer synchronously.
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    const c = connections.get(socket);
    if (!c) return;
    c.busy += 1;
    waiting.delete(socket);
    clearTimeout(c.timer);
    c.timer = undefined;
    // 'close' follows 'finish', or comes alone when the connection went first.
    res.once('close', () => {
      c.busy -= 1;
      c.served = true;
      if (c.busy === 0 && connections.has(socket)) wait(socket, c);
    });
  });
}
