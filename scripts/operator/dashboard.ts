/**
 * The Grafana dashboard "reloadscope / Hot reloads", built from the catalogue with the Grafana
 * Foundation SDK. Every query starts from a catalogue entry (scripts/operator/promql.ts): series names,
 * which labels exist, and whether the target filter applies come from packages/core/src/catalogue.ts.
 * `npm run docs` writes collector/grafana/dashboards/reloadscope.json from it (and the mixin's copy);
 * `npm run docs:check` fails when that file differs from what this module builds.
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardCursorSync,
  DatasourceVariableBuilder,
  type DataSourceRef,
  type DataTransformerConfig,
  MappingType,
  QueryVariableBuilder,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type ValueMapping,
  VariableRefresh,
  VariableSort,
} from '@grafana/grafana-foundation-sdk/dashboard';
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { METRICS, type MetricDefinition, type MetricKey, prometheusLabel } from '../../packages/core/src/catalogue.ts';
import {
  ATTR_AUTH_FAILURE_REASON,
  ATTR_CLUSTER_GENERATION,
  ATTR_CONFIG_HASH,
  ATTR_CONFIG_VERSION,
  ATTR_ERROR_TYPE,
  ATTR_OUTCOME,
  ATTR_RESOURCE_TYPE,
  ATTR_STAGE,
  ATTR_TARGET,
  OUTCOMES,
} from '../../packages/core/src/semconv.ts';
import {
  aggregate,
  binary,
  call,
  countValues,
  type HistogramPart,
  histogramQuantile,
  increase,
  labelsOf,
  legend,
  type Matcher,
  match,
  oneOf,
  parens,
  rate,
  scalarOp,
  select,
  type Vector,
} from './promql.ts';

export const DASHBOARD_UID = 'reloadscope-hot-reloads';
export const DASHBOARD_TITLE = 'reloadscope / Hot reloads';
/** The datasource uid of collector/grafana/provisioning, and the dashboard's datasource variable. */
export const DATASOURCE_UID = 'prometheus';

const TARGET = prometheusLabel(ATTR_TARGET);
const OUTCOME = prometheusLabel(ATTR_OUTCOME);
const STAGE = prometheusLabel(ATTR_STAGE);
const RESOURCE_TYPE = prometheusLabel(ATTR_RESOURCE_TYPE);
const AUTH_REASON = prometheusLabel(ATTR_AUTH_FAILURE_REASON);
const CLUSTER_GENERATION = prometheusLabel(ATTR_CLUSTER_GENERATION);
const CONFIG_HASH = prometheusLabel(ATTR_CONFIG_HASH);
const CONFIG_VERSION = prometheusLabel(ATTR_CONFIG_VERSION);
const ERROR_TYPE = prometheusLabel(ATTR_ERROR_TYPE);

/** Outcome label values, checked against the closed set. */
function outcomes(...names: string[]): string {
  for (const n of names) if (!(OUTCOMES as readonly string[]).includes(n)) throw new Error(`${n} is not an outcome (${OUTCOMES.join(', ')})`);
  return oneOf(names);
}

const L = (label: string) => `{{${label}}}`;
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own variable syntax, resolved by Grafana.
const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };
const RATE_WINDOW = '$__rate_interval';

export type Catalogue = Readonly<Record<MetricKey, MetricDefinition>>;

interface Query {
  readonly expr: Vector;
  readonly legend?: string;
}

/** What every panel kind of the SDK lets us set the same way. */
interface PanelBuilderLike {
  id(id: number): this;
  title(title: string): this;
  description(description: string): this;
  datasource(ref: DataSourceRef): this;
  gridPos(pos: { x: number; y: number; w: number; h: number }): this;
  unit(unit: string): this;
  withTarget(target: DataqueryBuilder): this;
  build(): unknown;
}

interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly width: number;
  /** A panel showing the current value of each series (stat, table, bar gauge) asks for one instant table. */
  readonly instant?: boolean;
  /** Built when the panel is, so an error names the panel. */
  readonly queries: () => readonly Query[];
  readonly make: () => PanelBuilderLike;
}

interface RowSpec {
  readonly title: string;
  /** Lines of panels, each with its height; widths of a line add up to at most 24. */
  readonly lines: ReadonlyArray<{ readonly height: number; readonly panels: readonly PanelSpec[] }>;
}

/** The dashboard's own filters (its job/instance/target variables), for the labels a series has. */
function filtersFor(def: MetricDefinition, part: HistogramPart | undefined, instance: boolean): Matcher[] {
  const labels = labelsOf(def, part);
  return [
    match('job', '=~', '$job'),
    ...(instance ? [match('instance', '=~', '$instance')] : []),
    ...(labels.includes(TARGET) ? [match(TARGET, '=~', '$target')] : []),
  ];
}

const timeseriesPanel = () =>
  new timeseries.PanelBuilder()
    .legend(
      new common.VizLegendOptionsBuilder()
        .displayMode(common.LegendDisplayMode.List)
        .placement(common.LegendPlacement.Bottom)
        .showLegend(true)
        .calcs([]),
    )
    .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Single).sort(common.SortOrder.None));

const lastValue = () => new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).fields('').values(false);

/** Tables of info series show their labels; the constant value and the timestamp are left out. */
const LABELS_ONLY: DataTransformerConfig = { id: 'organize', options: { excludeByName: { Time: true, Value: true } } };

/** The rows and panels, each query built from the catalogue. */
function rows(m: Catalogue, selector: string): RowSpec[] {
  const sel = (def: MetricDefinition, extra: Matcher[] = [], part?: HistogramPart, instance = true) =>
    select(def, selector, [...filtersFor(def, part, instance), ...extra], part);
  const bucketRate = (def: MetricDefinition) => rate(sel(def, [], 'bucket'), RATE_WINDOW);
  const quantiles = (def: MetricDefinition, by: string): Query[] =>
    [0.5, 0.99].map((q) => {
      const expr = histogramQuantile(q, [by], bucketRate(def));
      return { expr, legend: legend(expr, `p${q * 100} ${L(by)}`) };
    });
  const perInstance = (def: MetricDefinition, op: 'max' | 'min' = 'max'): Query => {
    const expr = aggregate(op, ['instance', TARGET], sel(def));
    return { expr, legend: legend(expr, `${L('instance')} ${L(TARGET)}`) };
  };
  const q = (expr: Vector, template?: string): Query => ({ expr, legend: template === undefined ? undefined : legend(expr, template) });

  const attempts = (extra: Matcher[]) => aggregate('sum', [TARGET], increase(sel(m.reloads, extra), '5m'));
  const heapMean = () => binary(
    aggregate('sum', [TARGET], rate(sel(m.heapDelta, [], 'sum'), RATE_WINDOW)),
    '/',
    aggregate('sum', [TARGET], rate(sel(m.heapDelta, [], 'count'), RATE_WINDOW)),
  );
  const blockedByStage = () => histogramQuantile(0.99, [STAGE], bucketRate(m.eventloopBlocked));
  const blockedAny = () => histogramQuantile(0.99, [], bucketRate(m.eventloopBlocked));
  const daysLeft = () => binary(parens(binary(aggregate('min', ['instance', TARGET], sel(m.tlsNotAfter)), '-', 'time()')), '/', 86400);
  const lastSuccessAge = () => scalarOp('time()', '-', aggregate('max', ['instance', TARGET], sel(m.lastSuccessTimestamp)));

  return [
    {
      title: 'Reloads',
      lines: [
        {
          height: 8,
          panels: [
            {
              title: 'Reload rate by outcome',
              description: 'Reload runs per second by outcome. unchanged = same content hash as the active version.',
              width: 12,
              queries: () => [q(aggregate('sum', [OUTCOME], rate(sel(m.reloads), RATE_WINDOW)), L(OUTCOME))],
              make: () => timeseriesPanel().unit('ops'),
            },
            {
              title: 'Failure ratio (5m, excluding unchanged)',
              description:
                'Share of reload attempts that failed, timed out or rolled back. The HotReloadFailureRatioHigh alert fires above 20% with at least 3 attempts.',
              width: 6,
              queries: () => [
                q(
                  binary(
                    attempts([match(OUTCOME, '!~', outcomes('success', 'unchanged'))]),
                    '/',
                    call('clamp_min', attempts([match(OUTCOME, '!=', outcomes('unchanged'))]), 1),
                  ),
                  L(TARGET),
                ),
              ],
              make: () => timeseriesPanel().unit('percentunit'),
            },
            {
              title: 'Consecutive failures',
              description: 'Runs in a row that did not succeed; reset by success or unchanged. Pages at 5.',
              width: 6,
              queries: () => [perInstance(m.consecutiveFailures)],
              make: () => timeseriesPanel().unit('short'),
            },
          ],
        },
        {
          height: 8,
          panels: [
            {
              title: 'Reload duration p50 / p99',
              description: 'Whole-run wall time. The HotReloadSlow alert fires when p99 over 10m exceeds 3 s (a bucket edge).',
              width: 12,
              queries: () => quantiles(m.duration, TARGET),
              make: () => timeseriesPanel().unit('s'),
            },
            {
              title: 'Stage duration p50 / p99',
              description: 'Per stage: load, verify, switch, unload (and rollback when it happens).',
              width: 12,
              queries: () => quantiles(m.stageDuration, STAGE),
              make: () => timeseriesPanel().unit('s'),
            },
          ],
        },
        {
          height: 6,
          panels: [
            {
              title: 'Last successful reload (age)',
              description: 'Seconds since the last successful reload of each instance and target.',
              width: 6,
              instant: true,
              queries: () => [q(lastSuccessAge(), `${L('instance')} ${L(TARGET)}`)],
              make: () =>
                new stat.PanelBuilder()
                  .unit('s')
                  .reduceOptions(lastValue())
                  .colorMode(common.BigValueColorMode.Value)
                  .graphMode(common.BigValueGraphMode.None),
            },
            {
              title: 'Last reload succeeded',
              description: '1 when the latest run ended success or unchanged, 0 when it failed, timed out or rolled back.',
              width: 6,
              instant: true,
              queries: () => [perInstance(m.lastReloadSuccess, 'min')],
              make: () =>
                new stat.PanelBuilder()
                  .mappings([
                    {
                      type: MappingType.ValueToText,
                      options: { '0': { text: 'failed', color: 'red' }, '1': { text: 'ok', color: 'green' } },
                    } satisfies ValueMapping,
                  ])
                  .reduceOptions(lastValue())
                  .colorMode(common.BigValueColorMode.Background)
                  .graphMode(common.BigValueGraphMode.None),
            },
            {
              title: 'In progress / pending',
              description: 'Runs executing now and requests coalesced behind them. HotReloadStuck fires when a run never finishes.',
              width: 12,
              queries: () => [
                q(aggregate('sum', [TARGET], sel(m.inProgress)), `in progress ${L(TARGET)}`),
                q(aggregate('sum', [TARGET], sel(m.pending)), `pending ${L(TARGET)}`),
              ],
              make: () => timeseriesPanel().unit('short'),
            },
          ],
        },
      ],
    },
    {
      title: 'Versions and fleet drift',
      lines: [
        {
          height: 8,
          panels: [
            {
              title: 'Active version per instance',
              description: 'Full sha256 and version label of the ACTIVE version on each instance (a failed reload never changes it).',
              width: 16,
              instant: true,
              queries: () => [q(aggregate('max', ['job', 'instance', TARGET, CONFIG_HASH, CONFIG_VERSION], sel(m.configInfo)))],
              make: () => new table.PanelBuilder().withTransformation(LABELS_ONLY),
            },
            {
              title: 'Distinct active versions per target (fleet drift)',
              description: 'More than 1 = instances of one service run different versions. HotReloadFleetDrift fires after 15 minutes.',
              width: 8,
              queries: () => [
                q(
                  aggregate('count', ['job', TARGET], countValues('hash', ['job', TARGET], sel(m.configHash, [], undefined, false))),
                  `${L('job')} ${L(TARGET)}`,
                ),
              ],
              make: () => timeseriesPanel().unit('short'),
            },
          ],
        },
        {
          height: 7,
          panels: [
            {
              title: 'Generation',
              description: 'Versions activated in this process (the initial load is 1).',
              width: 12,
              queries: () => [perInstance(m.generation)],
              make: () => timeseriesPanel().unit('short'),
            },
            {
              title: 'Active hash (48-bit) per instance',
              description:
                'First 48 bits of the active sha256 as a number: equal lines = same version. A change without a success is HotReloadConfigDrift.',
              width: 12,
              queries: () => [perInstance(m.configHash)],
              make: () => timeseriesPanel().unit('none'),
            },
          ],
        },
      ],
    },
    {
      title: 'Memory and runtime',
      lines: [
        {
          height: 8,
          panels: [
            {
              title: 'Retained old versions',
              description:
                'Unloaded versions still reachable after the grace period. Two or more for 30 minutes is HotReloadVersionsRetained.',
              width: 8,
              queries: () => [perInstance(m.retainedVersions)],
              make: () => timeseriesPanel().unit('short'),
            },
            {
              title: 'Heap delta per reload',
              description: 'Heap used after a run minus before it. A steadily positive mean means every reload keeps memory.',
              width: 8,
              queries: () => [
                q(heapMean(), `mean ${L(TARGET)}`),
                q(histogramQuantile(0.99, [TARGET], bucketRate(m.heapDelta)), `p99 ${L(TARGET)}`),
              ],
              make: () => timeseriesPanel().unit('bytes'),
            },
            {
              title: 'Event loop blocked by reloads (p99), by worst stage',
              description:
                "Each run's worst event-loop delay (one point per run), split by the stage that caused it: requests stall for this long while that stage runs. Every stage's own delay is on its span (attribute hotreload.eventloop.blocked).",
              width: 8,
              queries: () => [q(blockedByStage(), L(STAGE)), q(blockedAny(), 'any stage')],
              make: () => timeseriesPanel().unit('s'),
            },
          ],
        },
        {
          height: 7,
          panels: [
            {
              title: 'Active resources delta',
              description:
                'Handles/requests by type left behind by a reload (after minus before). Growing = the old version\'s timers or sockets were not closed.',
              width: 24,
              queries: () => [q(aggregate('sum', [TARGET, RESOURCE_TYPE], sel(m.resourcesDelta)), `${L(TARGET)} ${L(RESOURCE_TYPE)}`)],
              make: () => timeseriesPanel().unit('short'),
            },
          ],
        },
      ],
    },
    {
      title: 'TLS certificates and refused candidates',
      lines: [
        {
          height: 8,
          panels: [
            {
              title: 'Days left of the served certificate',
              description:
                'Expiry of the certificate each instance PRESENTS (watchTls), not of the Secret on disk. Under 7 days is HotReloadTlsCertificateExpiring, under 1 day its critical form.',
              width: 8,
              instant: true,
              queries: () => [q(daysLeft(), `${L('instance')} ${L(TARGET)}`)],
              make: () =>
                new bargauge.PanelBuilder()
                  .unit('d')
                  .min(0)
                  .thresholds(
                    new ThresholdsConfigBuilder().mode(ThresholdsMode.Absolute).steps([
                      { color: 'red', value: null },
                      { color: 'orange', value: 1 },
                      { color: 'green', value: 7 },
                    ]),
                  )
                  .reduceOptions(lastValue())
                  .orientation(common.VizOrientation.Horizontal)
                  .displayMode(common.BarGaugeDisplayMode.Basic),
            },
            {
              title: 'Newest candidate per instance',
              description:
                "The newest version a reload identified, applied or refused; error_type says why a refused one was refused. It differs from the active version while something new waits unapplied.",
              width: 10,
              instant: true,
              queries: () => [q(aggregate('max', ['job', 'instance', TARGET, CONFIG_HASH, ERROR_TYPE], sel(m.candidateInfo)))],
              make: () => new table.PanelBuilder().withTransformation(LABELS_ONLY),
            },
            {
              title: 'Newest candidate refused (1) or applied (0)',
              description: "1 while the newest candidate's hash differs from the active one's: a version on disk that the process did not take.",
              width: 6,
              queries: () => [
                q(
                  binary(aggregate('max', ['instance', TARGET], sel(m.candidateHash)), '!= bool', aggregate('max', ['instance', TARGET], sel(m.configHash))),
                  `${L('instance')} ${L(TARGET)}`,
                ),
              ],
              make: () => timeseriesPanel().unit('short').min(0).max(1),
            },
          ],
        },
        {
          height: 7,
          panels: [
            {
              title: 'HTTP reload trigger: refused credentials',
              description:
                "Requests the HTTP reload trigger refused for their credentials, by reason (missing, malformed, wrong, throttled). A steady 'wrong' or any 'throttled' means someone is guessing the token.",
              width: 24,
              queries: () => [
                q(aggregate('sum', ['instance', AUTH_REASON], increase(sel(m.httpAuthFailures), '5m')), `${L('instance')} ${L(AUTH_REASON)}`),
              ],
              make: () => timeseriesPanel().unit('short'),
            },
          ],
        },
        {
          height: 7,
          panels: [
            {
              title: 'Bundle prune failures',
              description:
                'Old bundle releases that could not be removed after a switch (the switch stood). Non-zero = disk fills up with releases; see the prune_failed diagnostic for which one.',
              width: 24,
              queries: () => [q(aggregate('sum', [TARGET], increase(sel(m.bundlePruneFailures), RATE_WINDOW)), L(TARGET))],
              make: () => timeseriesPanel().unit('short'),
            },
          ],
        },
      ],
    },
    {
      title: 'Cluster code upgrades',
      lines: [
        {
          height: 8,
          panels: [
            {
              title: 'Workers by generation',
              description:
                'Live @reloadscope/cluster workers: starting (being verified), current (serving), old (draining). old staying above 0 past the drain timeout is a lingering generation.',
              width: 12,
              queries: () => [q(aggregate('sum', [TARGET, CLUSTER_GENERATION], sel(m.clusterWorkers)), `${L(TARGET)} ${L(CLUSTER_GENERATION)}`)],
              make: () => timeseriesPanel().unit('short'),
            },
            {
              title: 'Drain duration p50 / p99',
              description: 'From a worker being told to drain to its exit. Near the drain timeout = requests that outlive it.',
              width: 12,
              queries: () => quantiles(m.clusterDrainDuration, TARGET),
              make: () => timeseriesPanel().unit('s'),
            },
          ],
        },
        {
          height: 7,
          panels: [
            {
              title: 'Forced kills and worker restarts',
              description:
                'Forced kills: draining workers killed at the drain timeout (requests cut). Restarts: workers that crashed outside an upgrade and were replaced; a steady rate is a crash loop.',
              width: 24,
              queries: () => [
                q(aggregate('sum', [TARGET], increase(sel(m.clusterForcedKills), RATE_WINDOW)), `forced kills ${L(TARGET)}`),
                q(aggregate('sum', [TARGET], increase(sel(m.clusterWorkerRestarts), RATE_WINDOW)), `restarts ${L(TARGET)}`),
              ],
              make: () => timeseriesPanel().unit('short'),
            },
          ],
        },
      ],
    },
  ];
}

/** A variable listing the values of `label` on the reload counter, narrowed by the variables before it. */
function labelVariable(m: Catalogue, selector: string, name: string, label: string, text: string, narrowBy: Matcher[]) {
  if (!labelsOf(m.reloads).includes(label)) throw new Error(`variable ${name}: ${m.reloads.prometheus} has no label ${label}`);
  const query = `label_values(${select(m.reloads, selector, narrowBy).expr}, ${label})`;
  return new QueryVariableBuilder(name)
    .label(text)
    .datasource(DATASOURCE)
    .query({ query, refId: 'PrometheusVariableQueryEditor-VariableQuery', qryType: 1 })
    .refresh(VariableRefresh.OnTimeRangeChanged)
    .includeAll(true)
    .allValue('.*')
    .multi(true)
    .current({ selected: true, text: ['All'], value: ['$__all'] })
    .sort(VariableSort.AlphabeticalAsc);
}

/**
 * The dashboard as Grafana's JSON model. `selector` goes first into every series selector (queries and
 * variables); `catalogue` is METRICS, or a changed copy in the tests that show a change flows through.
 */
export function buildDashboard(selector: string, catalogue: Catalogue = METRICS): unknown {
  const builder = new DashboardBuilder(DASHBOARD_TITLE)
    .uid(DASHBOARD_UID)
    .description('Hot-reload telemetry from reloadscope: outcomes, durations, active versions, fleet drift, leaks.')
    .tags(['reloadscope', 'hot-reload', 'opentelemetry'])
    .timezone('browser')
    .editable()
    .version(1)
    .refresh('30s')
    .time({ from: 'now-1h', to: 'now' })
    .tooltip(DashboardCursorSync.Crosshair)
    .withVariable(
      new DatasourceVariableBuilder('datasource')
        .label('Datasource')
        .type('prometheus')
        .current({ text: 'Prometheus', value: DATASOURCE_UID }),
    )
    .withVariable(labelVariable(catalogue, selector, 'job', 'job', 'Service (job)', []))
    .withVariable(labelVariable(catalogue, selector, 'instance', 'instance', 'Instance', [match('job', '=~', '$job')]))
    .withVariable(labelVariable(catalogue, selector, 'target', TARGET, 'Target', [match('job', '=~', '$job')]));

  let id = 0;
  let y = 0;
  for (const row of rows(catalogue, selector)) {
    builder.withRow(new RowBuilder(row.title).id(++id).gridPos({ x: 0, y, w: 24, h: 1 }));
    y += 1;
    for (const line of row.lines) {
      let x = 0;
      for (const spec of line.panels) {
        const panel = spec
          .make()
          .id(++id)
          .title(spec.title)
          .description(spec.description)
          .datasource(DATASOURCE)
          .gridPos({ x, y, w: spec.width, h: line.height });
        let queries: readonly Query[];
        try {
          queries = spec.queries();
        } catch (err) {
          throw new Error(`panel "${spec.title}" (row "${row.title}"): ${(err as Error).message}`);
        }
        queries.forEach((query, i) => {
          const target = new DataqueryBuilder()
            .datasource(DATASOURCE)
            .refId(String.fromCharCode(65 + i))
            .expr(query.expr.expr)
            .legendFormat(query.legend ?? '');
          panel.withTarget(spec.instant ? target.instant().format(PromQueryFormat.Table) : target.range());
        });
        builder.withPanel(panel as never);
        x += spec.width;
      }
      if (x > 24) throw new Error(`row "${row.title}": a line of panels is ${x} wide (at most 24)`);
      y += line.height;
    }
  }
  return builder.build();
}
