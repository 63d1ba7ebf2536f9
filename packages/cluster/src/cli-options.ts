/**
 * The flags of `reloadscope-cluster`: what parseArgs reads, what `--help` prints and what the README's
 * flag table is checked against (scripts/doc-facts.ts), from one list. Their own module so the check
 * needs no CLI run.
 */
import { DEFAULT_TARGET } from './options.ts';

/** Every flag (and the superviseCluster option it sets): parsed from this list and printed by --help from it. */
export const FLAGS: ReadonlyArray<readonly [flag: string, arg: string, meaning: string, option?: string]> = [
  ['release', '<dir>', 'the release directory or a symlink to one (a bundle root\'s current); resolved once per upgrade. Required', 'release'],
  ['entry', '<file>', 'the app\'s entry, relative to the release. Required', 'entry'],
  ['workers', '<n>', 'workers per generation (default: the number of CPUs)', 'workers'],
  ['port', '<port>', 'the service port every generation must listen on (default: learned from the first generation: every address it listens on with a fixed port)', 'port'],
  ['target', '<name>', `the reload target, hotreload.target (default ${DEFAULT_TARGET})`, 'target'],
  ['ready-timeout', '<ms>', 'how long a new worker may take to become ready (default 10000)', 'readyTimeoutMs'],
  ['stabilize', '<ms>', 'how long a ready worker must stay alive and listening before it counts as verified (default 1000)', 'stabilizeMs'],
  ['drain-timeout', '<ms>', 'how long an old worker may take to drain before SIGKILL (default 10000)', 'drainTimeoutMs'],
  ['health', '<path>', 'a GET each new worker must answer 2xx, on its (plain HTTP) listener on the service address (default none)', 'health'],
  ['public-key', '<file>', 'Ed25519 PEM: every release must be a signed bundle release (default none)', 'publicKey'],
  ['serial-state', '<file>', 'rollback protection (needs --public-key): a release whose signed serial is below the highest accepted is refused (version_rollback); the file keeps that floor across restarts (default off)', 'serial'],
  ['help', '', 'print this and exit'],
];

/** FLAGS as `node:util` parseArgs options. */
export const CLI_OPTIONS = Object.fromEntries(
  FLAGS.map(([flag, arg]) => [flag, arg ? { type: 'string' as const } : { type: 'boolean' as const, short: 'h' }]),
) as Record<string, { type: 'string' } | { type: 'boolean'; short: 'h' }>;
