// prometheusAlerts: the groups of collector/prometheus/rules/hotreload.rules.yml, which is their one
// source (with the comment that explains each rule); generated/hotreload.rules.json is its copy with the
// selector left open, written by `npm run docs`.
local withSelector = import 'lib/with-selector.libsonnet';

{
  prometheusAlerts+:: {
    groups+: withSelector(import 'generated/hotreload.rules.json', $._config.reloadscopeSelector).groups,
  },
}
