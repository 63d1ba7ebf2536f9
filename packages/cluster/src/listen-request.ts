/**
 * What a `server.listen(...)` call asked for, read the way `net.Server#listen` reads its
 * arguments (its normalizeArgs): only whether it asked for an ephemeral TCP port. A listener on
 * an ephemeral port — reloadscope's own telemetry endpoint, an app's private admin port — is
 * never a service address: its port changes with every process, so no client can rely on it.
 */
export function requestsEphemeralPort(args: readonly unknown[]): boolean {
  const first = args[0];
  let port: unknown;
  if (typeof first === 'object' && first !== null) {
    const options = first as Record<string, unknown>;
    // A pipe path, or an inherited handle or fd: a fixed address, whatever it is.
    if (options.path !== undefined || options.fd !== undefined || options.handle !== undefined || '_handle' in options) return false;
    port = options.port;
  } else if (typeof first === 'string' && !(Number(first) >= 0)) {
    return false; // a pipe name
  } else {
    port = typeof first === 'function' ? undefined : first;
  }
  // Node listens on a random port for 0, and for anything that is not a number >= 0 (undefined).
  const n = Number(port);
  return !(n >= 0) || n === 0;
}
