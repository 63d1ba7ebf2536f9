/** Instrumentation scope of the node probes; the Prometheus Views of core select on this name. */
export const PACKAGE_NAME = '@reloadscope/node';
export const PACKAGE_VERSION = '0.1.0';
