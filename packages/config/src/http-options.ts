import { describeValue, type Options } from './options.ts';

/** The options of `createReloadHandler()`, checked and with defaults applied. */
export interface HandlerSettings {
  token: string;
  burst: number;
  perSecond: number;
  /** Failed authentications per client and window before it is refused unexamined. */
  authFailures: number;
  authWindowSeconds: number;
}

/** The options of `listenForReloads()` (and `watchConfig({ http })`), checked and with defaults applied. */
export interface ListenerSettings extends HandlerSettings {
  port: number;
  host: string;
  path: string;
  maxConnections: number;
}

// Visible ASCII: anything else cannot arrive intact in an Authorization header, so the endpoint
// would refuse every request; 4096 keeps long JWT-style tokens and refuses pasted files.
const TOKEN = /^[!-~]+$/;
// RFC 3986 path characters: the path is compared with the request URL's (percent-encoded) pathname,
// so a path with spaces, quotes, `?` or `#` could never match.
const URL_PATH = /^\/[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;

export function checkHandlerOptions(o: Options): HandlerSettings {
  const token = o.string('token', { minLength: 8, maxLength: 4096, pattern: TOKEN, patternText: 'of visible ASCII characters' });
  const rate = o.child('rateLimit');
  const throttle = o.child('authThrottle');
  o.function('onDiagnostic');
  o.withMethods('meterProvider', ['getMeter']);
  return {
    token: o.required('token', token, 'a string of 8 to 4096 visible ASCII characters'),
    // A burst below 1 admits nothing ever; NaN or Infinity used to switch the limit off.
    burst: rate?.integer('burst', 1, 1_000_000) ?? 5,
    perSecond: rate?.number('perSecond', { min: 0, minExclusive: true, max: 1_000_000 }) ?? 1,
    authFailures: throttle?.integer('failures', 1, 1_000_000) ?? 5,
    authWindowSeconds: throttle?.number('windowSeconds', { min: 0, minExclusive: true, max: 86_400 }) ?? 60,
  };
}

export function checkListenerOptions(o: Options): ListenerSettings {
  return {
    ...checkHandlerOptions(o),
    port: o.integer('port', 0, 65_535) ?? 0,
    host: o.string('host', { maxLength: 255 }) ?? '127.0.0.1',
    path: o.string('path', { maxLength: 1024, pattern: URL_PATH, patternText: "starting with '/' and made of URL path characters" }) ?? '/reload',
    // Each connection costs a socket and a little memory; beyond this a new one replaces the
    // oldest connection still waiting for a request, or is closed when all are busy.
    maxConnections: o.integer('maxConnections', 1, 100_000) ?? 16,
  };
}

/** The thing to reload (a ConfigWatcher, or any object with `reload()`). */
export function checkTarget(fn: string, target: unknown): void {
  if (typeof (target as { reload?: unknown } | null)?.reload !== 'function') {
    throw new TypeError(`${fn}: target must have a reload() method, got ${describeValue(target)}`);
  }
}
