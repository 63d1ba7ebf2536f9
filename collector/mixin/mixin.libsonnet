// The reloadscope monitoring mixin: the alert rules and the Grafana dashboard of collector/, with the job
// selector of every alert expression, dashboard query and variable configurable:
//
//   local reloadscope = (import 'mixin/mixin.libsonnet') + {
//     _config+:: { reloadscopeSelector: 'job=~"checkout|billing"' },
//   };
//   reloadscope.prometheusAlerts   // { groups: [...] }: a rules file, or a PrometheusRule's spec
//   reloadscope.grafanaDashboards  // { 'reloadscope.json': {...} }
//
// kube-prometheus's addMixin() takes it as it takes any mixin. Rendered with the default _config it is
// exactly what the chart and docker-compose ship (test/collector/mixin.test.ts compares them). It has no
// recording rules, so no prometheusRules. collector/README.md, "Monitoring mixin", says how it is made.
(import 'config.libsonnet') +
(import 'alerts.libsonnet') +
(import 'dashboards.libsonnet')
