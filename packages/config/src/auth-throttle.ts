export interface AuthThrottleOptions {
  /** Failed authentications one client may make within `windowSeconds` before it is refused. Default 5. */
  failures?: number;
  /** Length of the counting window, and of the refusal that follows a burst, in seconds. Default 60. */
  windowSeconds?: number;
}

/** A client that just used up its failures: said once per burst, never with anything it sent. */
export interface FailureBurst {
  /** The client (see clientKey), or `undefined` for the shared budget of clients the table had no room for. */
  client: string | undefined;
  failures: number;
  windowSeconds: number;
}

interface Entry {
  windowEnd: number;
  failures: number;
  blockedUntil: number;
}

/**
 * Bounds the memory an attacker rotating source addresses can make the table use. Once it is full
 * of live entries, clients without one share a single budget, so further addresses buy no more
 * guesses (a trade-off: a global cap instead would let any attacker lock every admin out).
 */
export const MAX_TRACKED_CLIENTS = 1024;
const SHARED = '';

/**
 * Who a remote address counts as: an IPv4 address itself, an IPv6 address its /64. One host
 * usually holds a whole /64 and can pick a fresh source address per request, so a per-address
 * count would be no limit at all there. IPv4-mapped IPv6 addresses count as their IPv4 address.
 */
export function clientKey(address: string): string {
  const plain = address.split('%')[0]!; // zone index (fe80::1%eth0)
  if (!plain.includes(':')) return plain;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(plain);
  if (mapped) return mapped[1]!;
  const [head = '', tail] = plain.split('::');
  const front = head ? head.split(':') : [];
  const back = tail ? tail.split(':') : [];
  const groups = tail === undefined ? front : [...front, ...Array<string>(Math.max(0, 8 - front.length - back.length)).fill('0'), ...back];
  return `${groups
    .slice(0, 4)
    .map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? Number.parseInt(g, 16) : 0).toString(16))
    .join(':')}::/64`;
}

/**
 * Per-client failed-authentication throttle (a client: see clientKey). A client that fails `failures` times within a window
 * is refused unexamined for a whole window: no token it sends meanwhile is compared, so guessing
 * runs at `failures` per window at most.
 */
export class AuthThrottle {
  readonly #max: number;
  readonly #windowMs: number;
  readonly #onBurst: (burst: FailureBurst) => void;
  readonly #now: () => number;
  readonly #clients = new Map<string, Entry>();

  /** `options` are checked by the caller (http-options.ts), with its defaults applied. */
  constructor(options: Required<AuthThrottleOptions>, onBurst: (burst: FailureBurst) => void, now = Date.now) {
    const { failures, windowSeconds } = options;
    this.#max = failures;
    this.#windowMs = windowSeconds * 1000;
    this.#onBurst = onBurst;
    this.#now = now;
  }

  /** Seconds the client must wait before its credentials are looked at again; 0 when they will be now. */
  retryAfter(address: string): number {
    const client = clientKey(address);
    const now = this.#now();
    const entry = this.#entry(client, now, false);
    if (!entry || entry.blockedUntil <= now) return 0;
    return Math.max(1, Math.ceil((entry.blockedUntil - now) / 1000));
  }

  failed(address: string): void {
    const client = clientKey(address);
    const now = this.#now();
    const entry = this.#entry(client, now, true)!;
    entry.failures += 1;
    if (entry.failures < this.#max) return;
    entry.blockedUntil = now + this.#windowMs;
    entry.windowEnd = entry.blockedUntil;
    entry.failures = 0;
    this.#onBurst({ client: this.#clients.has(client) ? client : undefined, failures: this.#max, windowSeconds: this.#windowMs / 1000 });
  }

  /** A client that authenticated starts afresh; the shared budget does not, one success is not everyone's. */
  succeeded(address: string): void {
    this.#clients.delete(clientKey(address));
  }

  /** How many clients are tracked now (for tests of the bound). */
  get size(): number {
    return this.#clients.size;
  }

  #entry(client: string, now: number, create: boolean): Entry | undefined {
    const own = this.#live(client, now);
    if (own) return own;
    // One slot stays free for the shared budget, so it never evicts a live client.
    if (this.#clients.size >= MAX_TRACKED_CLIENTS - 1) this.#sweep(now);
    const key = this.#clients.size - (this.#clients.has(SHARED) ? 1 : 0) < MAX_TRACKED_CLIENTS - 1 ? client : SHARED;
    const existing = this.#live(key, now);
    if (existing || !create) return existing;
    const entry = { windowEnd: now + this.#windowMs, failures: 0, blockedUntil: 0 };
    this.#clients.set(key, entry);
    return entry;
  }

  #live(key: string, now: number): Entry | undefined {
    const entry = this.#clients.get(key);
    if (!entry) return undefined;
    if (entry.windowEnd > now || entry.blockedUntil > now) return entry;
    this.#clients.delete(key);
    return undefined;
  }

  #sweep(now: number): void {
    for (const [key, entry] of this.#clients) if (entry.windowEnd <= now && entry.blockedUntil <= now) this.#clients.delete(key);
  }
}
