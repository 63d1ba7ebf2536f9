/**
 * The job selector of every alert expression and dashboard query. The shipped files (rules file,
 * dashboard JSON, and so the chart's and docker-compose's copies) carry DEFAULT_SELECTOR; the mixin's
 * generated files carry PLACEHOLDER, which collector/mixin replaces with `_config.reloadscopeSelector`.
 */

/** Matches every scraped series: each one has a job label (a scrape's, or service.name's on the OTLP path). */
export const DEFAULT_SELECTOR = 'job=~".+"';

/** The field of the mixin's `_config` that holds the selector. */
export const SELECTOR_FIELD = 'reloadscopeSelector';

/** What the mixin's generated files carry instead of a selector (jsonnet's `%(field)s` spelling). */
export const PLACEHOLDER = `%(${SELECTOR_FIELD})s`;
