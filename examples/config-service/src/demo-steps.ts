/**
 * The steps of `npm run demo`, in order: what each does and the reload it must produce. Data only,
 * so that the example's README table is checked against it (scripts/doc-facts.ts); demo.ts gives
 * each step its action.
 */
export const DEMO_STEPS = [
  { key: 'good', title: 'A good edit', why: 'greeting and a feature flag change; the file watch picks it up', trigger: 'file', outcome: 'success' },
  { key: 'sighup', title: 'SIGHUP, nothing changed', why: 'same bytes, same hash: no switch happens', trigger: 'signal', outcome: 'unchanged' },
  { key: 'broken', title: 'Broken YAML', why: 'an unterminated quote; the parse fails in the load stage', trigger: 'file', outcome: 'failure' },
  {
    key: 'schemaViolation',
    title: 'Schema violation',
    why: 'valid YAML, but rateLimit.requestsPerMinute: -5; the zod schema rejects it in verify',
    trigger: 'file',
    outcome: 'failure',
  },
  {
    key: 'portChange',
    title: 'A subscriber refuses',
    why: 'server.port changes; the running service cannot apply that, its onChange throws, the switch is rolled back',
    trigger: 'file',
    outcome: 'rollback',
  },
  {
    key: 'slowUpstream',
    title: 'A dependency that never answers',
    why: 'a new upstream is checked before switching; it hangs, the 2 s deadline ends the reload',
    trigger: 'file',
    outcome: 'timeout',
  },
  { key: 'restored', title: 'Fixed again', why: 'a good config; the reload succeeds', trigger: 'file', outcome: 'success' },
  {
    key: 'http',
    title: 'The HTTP trigger',
    why: 'POST /-/reload with the bearer token (a request without it gets 401); the file did not change since',
    trigger: 'http',
    outcome: 'unchanged',
  },
] as const;

export type DemoStepKey = (typeof DEMO_STEPS)[number]['key'];
