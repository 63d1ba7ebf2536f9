/**
 * The code form, free of side effects on import:
 *   import { startReloadscope } from '@reloadscope/register/api';
 *   const { instrumentation, shutdown } = startReloadscope({ serviceName: 'billing' });
 */
export {
  getReloadInstrumentation,
  getReloadscope,
  type Reloadscope,
  type SdkMode,
  type StartOptions,
  startReloadscope,
  startReloadscope as register,
} from './start.ts';
export { currentSeriesProducer } from './current-series-producer.ts';
export {
  formatGenerations,
  GenerationStampSampler,
  type GenerationSource,
  generationKey,
  parseGenerations,
  type StampForm,
} from './generation-stamp.ts';
export { readEnv, type EnvSettings } from './env.ts';
