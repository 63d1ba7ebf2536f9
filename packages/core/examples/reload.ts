import { ReloadError, ReloadInstrumentation } from '@reloadscope/core';

// Register it with your OpenTelemetry SDK (registerInstrumentations, NodeSDK), or let
// `node --import @reloadscope/register` do it; without an SDK it runs with no-op telemetry.
const reloads = new ReloadInstrumentation();

type Config = { greeting: string };
let active: Config = { greeting: 'hello' };

const result = await reloads.reload(
  { target: 'app-config', trigger: 'api', timeoutMs: 5_000 },
  {
    // Fetch/read/parse the new version. `signal` aborts at the deadline.
    load: async ({ signal }) => {
      signal.throwIfAborted();
      return { greeting: 'bonjour' } satisfies Config;
    },
    // Throw to reject; nothing has changed yet. A ReloadError's code becomes the span's error.type.
    verify: async (next) => {
      if (next.greeting.length === 0) throw new ReloadError('schema_violation', 'greeting must not be empty');
    },
    // Make it active and return what it replaced.
    switch: async (next) => {
      const previous = active;
      active = next;
      return previous;
    },
    // Release the old version (close what it opened).
    unload: async (previous) => {
      console.log(`unloaded ${previous.greeting}`);
    },
    // Undo a failed switch or unload.
    rollback: async (previous) => {
      if (previous) active = previous;
    },
  },
);

console.log(result.outcome, result.generation, result.hash?.slice(0, 12), active.greeting);
// A reload that loads the same content again is `unchanged`: no switch, no unload.
const again = await reloads.reload({ target: 'app-config' }, { load: () => ({ greeting: 'bonjour' }), switch: () => active });
console.log(again.outcome);
