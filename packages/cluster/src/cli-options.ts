/**
 * The flags of `reloadscope-cluster`, as `node:util` parseArgs reads them. Their own module so that
 * the README's flag table is checked against them (scripts/doc-facts.ts) without running the CLI.
 */
export const CLI_OPTIONS = {
  release: { type: 'string' },
  entry: { type: 'string' },
  workers: { type: 'string' },
  target: { type: 'string' },
  'ready-timeout': { type: 'string' },
  'drain-timeout': { type: 'string' },
  health: { type: 'string' },
  'public-key': { type: 'string' },
} as const;
