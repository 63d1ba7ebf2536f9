/** The meter name: prometheusViews() maps `@reloadscope/<owner>` meters to the catalogue's names. */
export const PACKAGE_NAME = '@reloadscope/cluster';
export const PACKAGE_VERSION = '0.1.0';
