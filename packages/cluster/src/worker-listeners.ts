/**
 * Every server the app listens on in a supervised worker, as the supervisor needs to see it:
 *
 * - each listener is reported to the primary (`listening`, `closed`) with its address and whether
 *   it asked for an ephemeral port, so readiness means "listens on the service address", not
 *   "some server in this process listened" (reloadscope's own telemetry endpoint, an admin port);
 * - while the worker's generation is not yet verified (`hold`), its listeners on fixed addresses
 *   refuse every connection the primary hands them: node:cluster's round-robin then hands the
 *   connection to another worker, i.e. the generation that serves now. A release that fails
 *   verification never answers a request; `serve()` (at the switch) lifts the hold;
 * - with `--health`, each such HTTP listener gets a private loopback port whose connections go to
 *   that server directly (the shared port would round-robin the check to any worker).
 */
import { Server as HttpServer } from 'node:http';
import { createServer, Server, type Socket } from 'node:net';
import { requestsEphemeralPort } from './listen-request.ts';
import { type ListeningMessage, MESSAGE_KEY } from './protocol.ts';

/** Marks reloadscope's own servers (the health forwarders): never reported, held or drained. */
export const INTERNAL = Symbol('reloadscope.cluster.internal');

export interface ListenerOptions {
  /** Refuse the primary's connections on fixed addresses until `serve()`. */
  hold: boolean;
  /** Open a private health port per HTTP listener on a fixed address. */
  health: boolean;
  send(message: Record<string, unknown>): void;
  /** Every connection of an app server (the drain tracks them). */
  onConnection(socket: Socket): void;
  /** The first listener on a fixed address is up (the worker's start-up span ends). */
  onServiceListening(): void;
}

interface Listening {
  id: number;
  forwarder: Server | undefined;
}

const isInternal = (server: Server) => (server as unknown as Record<symbol, boolean>)[INTERNAL] === true;

export class WorkerListeners {
  /** Every app server that ever listened: the drain closes them. */
  readonly servers = new Set<Server>();
  readonly #options: ListenerOptions;
  readonly #listening = new Map<Server, Listening>();
  #holding: boolean;
  #ids = 0;

  constructor(options: ListenerOptions) {
    this.#options = options;
    this.#holding = options.hold;
  }

  /** Wrap net.Server#listen and #close (http, https and tls servers inherit both). */
  install(): void {
    const self = this;
    const listen = Server.prototype.listen;
    Server.prototype.listen = function (this: Server, ...args: unknown[]) {
      if (!isInternal(this)) self.#willListen(this, requestsEphemeralPort(args));
      return (listen as (...a: unknown[]) => Server).apply(this, args);
    } as typeof Server.prototype.listen;
    const close = Server.prototype.close;
    Server.prototype.close = function (this: Server, ...args: unknown[]) {
      self.#closed(this);
      return (close as (...a: unknown[]) => Server).apply(this, args);
    } as typeof Server.prototype.close;
  }

  /** The generation was switched in: every listener accepts from now on. */
  serve(): void {
    this.#holding = false;
  }

  /** The health forwarders close with the app's servers (at drain). */
  closeForwarders(): void {
    for (const l of this.#listening.values()) l.forwarder?.close();
  }

  #willListen(server: Server, ephemeral: boolean): void {
    if (!this.servers.has(server)) {
      this.servers.add(server);
      server.on('connection', this.#options.onConnection);
    }
    if (!ephemeral) this.#hold(server);
    server.once('listening', () => this.#report(server, ephemeral));
  }

  /**
   * node:cluster's worker refuses a connection the primary hands it while the server is at its
   * `maxConnections` (and the primary hands it to another worker), so 0 holds a listener without
   * touching the app's own setting, which this keeps and applies once serving.
   */
  #hold(server: Server): void {
    if (Object.getOwnPropertyDescriptor(server, 'maxConnections')?.get) return;
    let own = server.maxConnections;
    Object.defineProperty(server, 'maxConnections', {
      configurable: true,
      enumerable: true,
      get: () => (this.#holding ? 0 : own),
      set: (value: number) => {
        own = value;
      },
    });
  }

  #report(server: Server, ephemeral: boolean): void {
    if (this.#listening.has(server) || !server.listening) return;
    const entry: Listening = { id: ++this.#ids, forwarder: undefined };
    this.#listening.set(server, entry);
    const at = server.address();
    const message: ListeningMessage = {
      [MESSAGE_KEY]: 'listening',
      id: entry.id,
      address: typeof at === 'string' ? at : (at?.address ?? ''),
      port: typeof at === 'object' && at !== null ? at.port : null,
      ephemeral,
      health: null,
    };
    if (!ephemeral) this.#options.onServiceListening();
    if (ephemeral || !this.#options.health || !(server instanceof HttpServer)) {
      this.#options.send({ ...message });
      return;
    }
    // Its connections go to this server only, past the hold: the check must reach the worker under test.
    const forwarder = createServer((socket) => server.emit('connection', socket));
    (forwarder as unknown as Record<symbol, boolean>)[INTERNAL] = true;
    entry.forwarder = forwarder;
    const report = () => {
      const a = forwarder.address();
      if (this.#listening.get(server) === entry) this.#options.send({ ...message, health: a && typeof a === 'object' ? a.port : null });
    };
    forwarder.on('error', report); // no private port: the health check then fails, and says so
    forwarder.listen({ host: '127.0.0.1', port: 0, exclusive: true }, report);
  }

  #closed(server: Server): void {
    const entry = this.#listening.get(server);
    if (!entry) return;
    this.#listening.delete(server);
    entry.forwarder?.close();
    this.#options.send({ [MESSAGE_KEY]: 'closed', id: entry.id });
  }
}
