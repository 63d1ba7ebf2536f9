/**
 * `node --import @reloadscope/register app.js`: importing this entry starts reloadscope from the
 * OTEL_* environment (once per process; later imports are no-ops). It also re-exports the code
 * API, so `import { getReloadInstrumentation } from '@reloadscope/register'` in the app returns
 * the instance the --import created. For a start without side effects, use '@reloadscope/register/api'.
 */
import { startReloadscope } from './start.ts';

startReloadscope();

export * from './api.ts';
