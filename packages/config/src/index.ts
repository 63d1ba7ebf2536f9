export {
  watchConfig,
  DEFAULT_MAX_BYTES,
  type WatchConfigOptions,
  type ConfigWatcher,
  type ChangeListener,
  type ChangeInfo,
  type ReloadRequest,
} from './watch-config.ts';
export {
  watchTls,
  DEFAULT_TLS_MAX_BYTES,
  type WatchTlsOptions,
  type TlsWatcher,
  type CertificateInfo,
  type SecureContextHolder,
} from './tls.ts';
export { ConfigError, CONFIG_ERROR_CODES, type ConfigErrorCode } from './errors.ts';
export { parseConfig, type ConfigFormat, type ConfigParser } from './parse.ts';
export { readCapped, hashFile, type ReadResult, type HashFileOptions, type FileDigest } from './read.ts';
export { validateSchema, checkSha256File, checkSignature, type IntegrityOptions } from './verify.ts';
export { watchFiles, debounce, isFileMountPoint, type WatchOptions, type DirectoryWatch, type DebounceOptions } from './watch.ts';
export { checkReloadSignal } from './signal.ts';
export {
  createReloadHandler,
  listenForReloads,
  resultSummary,
  type Reloadable,
  type ReloadHandlerOptions,
  type ReloadListenerOptions,
  type ReloadListener,
} from './http-trigger.ts';
export type { ConfigDiagnostic, DiagnosticSink } from './diagnostics.ts';
export {
  activateBundle,
  acceptBundleRelease,
  activeBundleVersion,
  checkBundleSerialOption,
  verifyBundle,
  writeRelease,
  readBundleManifest,
  verifyBundleFiles,
  MANIFEST,
  MANIFEST_SIGNATURE,
  RELEASES,
  CURRENT,
  type ActivateBundleOptions,
  type AcceptBundleReleaseOptions,
  type BundleManifest,
  type BundleVerifyOptions,
  type VerifyBundleOptions,
  type VerifiedBundle,
  type WriteReleaseOptions,
} from './bundle.ts';
export type { SerialOptions } from './serial.ts';
