/** Instrumentation scope of every core instrument and span. */
export const PACKAGE_NAME = '@reloadscope/core';
export const PACKAGE_VERSION = '0.1.0';
