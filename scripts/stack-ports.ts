/**
 * The loopback port plan of the telemetry stack: the one place that says which component listens
 * where. `npm run stack` uses the defaults below (or free ports with --free-ports), the e2e tests use
 * free ports under the same names, and scripts/stack-wiring.ts turns a plan into the environment
 * overrides of the shipped configs.
 *
 * The defaults keep the well-known ports where a user or an app expects them (OTLP 4317/4318 on the
 * Collector, so an app's default OTLP endpoint reaches it; Jaeger's query port 16686; Prometheus 9090)
 * and move Jaeger's own receivers and health/metrics ports off the Collector's: with the shipped
 * defaults both would bind 4317, 4318, 13133 and 8888 and the second one to start would die.
 */
import { freePorts, takenPorts } from './stack-processes.ts';

export const PORTS = {
  service: { port: 3000, what: 'config-service HTTP' },
  appMetrics: { port: 9464, what: "config-service's Prometheus endpoint (the Collector scrapes it)" },
  collectorOtlpGrpc: { port: 4317, what: 'Collector OTLP/gRPC receiver' },
  collectorOtlpHttp: { port: 4318, what: 'Collector OTLP/HTTP receiver (apps send traces here)' },
  collectorProm: { port: 8889, what: "Collector prometheus exporter (the apps' series, scraped by Prometheus)" },
  collectorTelemetry: { port: 8888, what: "Collector's own metrics" },
  collectorHealth: { port: 13133, what: 'Collector health_check' },
  jaegerQuery: { port: 16686, what: 'Jaeger query API (HTTP)' },
  jaegerQueryGrpc: { port: 16685, what: 'Jaeger query API (gRPC)' },
  jaegerOtlpGrpc: { port: 14317, what: 'Jaeger OTLP/gRPC receiver (the Collector exports here)' },
  jaegerOtlpHttp: { port: 14318, what: 'Jaeger OTLP/HTTP receiver' },
  jaegerHealth: { port: 14133, what: 'Jaeger health check' },
  jaegerMetrics: { port: 14269, what: "Jaeger's own metrics" },
  prometheus: { port: 9090, what: 'Prometheus UI and API' },
} as const satisfies Record<string, { port: number; what: string }>;

export type PortName = keyof typeof PORTS;
export type PortPlan = Record<PortName, number>;

export const PORT_NAMES = Object.keys(PORTS) as PortName[];

export function isPortName(name: string): name is PortName {
  return Object.hasOwn(PORTS, name);
}

export function defaultPlan(): PortPlan {
  return Object.fromEntries(PORT_NAMES.map((n) => [n, PORTS[n].port])) as PortPlan;
}

/** A plan of distinct ports that were free on 127.0.0.1 a moment ago. */
export async function freePlan(): Promise<PortPlan> {
  const free = await freePorts(PORT_NAMES.length);
  return Object.fromEntries(PORT_NAMES.map((n, i) => [n, free[i]!])) as PortPlan;
}

/** Problems with a plan that would make a component die at startup: a port used twice, or not a port. */
export function planProblems(plan: PortPlan): string[] {
  const problems: string[] = [];
  const owner = new Map<number, PortName>();
  for (const name of PORT_NAMES) {
    const port = plan[name];
    if (!Number.isInteger(port) || port < 1 || port > 65535) problems.push(`${name}: ${port} is not a TCP port (1-65535)`);
    const other = owner.get(port);
    if (other !== undefined) problems.push(`${name} and ${other} both use port ${port}`);
    owner.set(port, name);
  }
  return problems;
}

/** Names of the plan's ports that something else already listens on. */
export async function takenInPlan(plan: PortPlan): Promise<PortName[]> {
  const taken = new Set(await takenPorts(PORT_NAMES.map((n) => plan[n])));
  return PORT_NAMES.filter((n) => taken.has(plan[n]));
}
