/**
 * Where the running Prometheus serves its web UI. Upstream builds serve the React UI at `/alerts`,
 * `/graph`; Debian's package (2.42, what scripts/setup-stack.sh installs) ships without it and
 * serves the classic UI under `/classic/` only, so `/alerts` is a 404 there. Asked of the running
 * server rather than read from its version: what answers is what gets printed.
 */
export interface PrometheusUi {
  /** The alerts page, or the alerts API when no UI answers. */
  alerts: string;
  /** The query page for `expr`, or the instant-query API when no UI answers. */
  graph(expr: string): string;
}

const CANDIDATES = ['', '/classic'];

export async function prometheusUi(base: string): Promise<PrometheusUi> {
  const root = base.replace(/\/+$/, '');
  for (const prefix of CANDIDATES) {
    if (await answers200(`${root}${prefix}/alerts`)) {
      return { alerts: `${root}${prefix}/alerts`, graph: (expr) => `${root}${prefix}/graph?g0.expr=${encodeURIComponent(expr)}` };
    }
  }
  return { alerts: `${root}/api/v1/alerts`, graph: (expr) => `${root}/api/v1/query?query=${encodeURIComponent(expr)}` };
}

async function answers200(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(5_000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
}
