// grafanaDashboards: "reloadscope / Hot reloads", built from the telemetry catalogue by
// scripts/operator/dashboard.ts; generated/reloadscope.json is its rendering with the selector left open.
local withSelector = import 'lib/with-selector.libsonnet';

{
  grafanaDashboards+:: {
    'reloadscope.json': withSelector(import 'generated/reloadscope.json', $._config.reloadscopeSelector),
  },
}
