/**
 * Run `fn` once the application is running: after its main module has evaluated and the event
 * loop has turned once. What register defers with it is then loaded next to the app, not in its
 * start-up. A plain import() at boot would not do: the ESM loader reads synchronously, so the
 * import would finish before the app's first line, and one from a first immediate before the
 * app's own first immediate; hence the second immediate. Both are unref'd: a process with nothing
 * else to do exits as before, without loading what it would never use.
 */
export function afterStartUp(fn: () => void): void {
  setImmediate(() => setImmediate(fn).unref()).unref();
}
