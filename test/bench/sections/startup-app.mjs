/**
 * The "application" of `startup.ts`. At its first turn of the loop it reports how long the
 * process took to get there (performance.now() counts from process start) and its peak RSS;
 * 300 ms later, once work deferred by what was `--import`ed has run, its peak RSS again; then it
 * exits.
 */
setImmediate(() => {
  const readyMs = performance.now();
  const readyRssKiB = process.resourceUsage().maxRSS;
  setTimeout(() => {
    process.stdout.write(`${JSON.stringify({ readyMs, readyRssKiB, settledRssKiB: process.resourceUsage().maxRSS })}\n`);
    process.exit(0);
  }, 300);
});
