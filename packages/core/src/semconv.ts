/**
 * Attribute keys and the closed value sets of reloadscope telemetry.
 * One module so that span attributes, metric attributes, docs and tests agree.
 */

export const ATTR_TARGET = 'hotreload.target';
export const ATTR_TRIGGER = 'hotreload.trigger';
export const ATTR_STAGE = 'hotreload.stage';
export const ATTR_OUTCOME = 'hotreload.outcome';
export const ATTR_GENERATION = 'hotreload.generation';
/**
 * On every span of a process started with @reloadscope/register: the active generation of every
 * target, in one string (`app-config=3;rules=7`; format in the register README, "Generation stamping").
 */
export const ATTR_GENERATIONS = 'hotreload.generations';
export const ATTR_CONFIG_HASH = 'hotreload.config.hash';
export const ATTR_CONFIG_VERSION = 'hotreload.config.version';
export const ATTR_PREVIOUS_HASH = 'hotreload.config.previous_hash';
export const ATTR_CONFIG_SIZE = 'hotreload.config.size';
export const ATTR_RESOURCE_TYPE = 'hotreload.resource.type';
export const ATTR_COALESCED = 'hotreload.coalesced_requests';
/** On each stage span (set by @reloadscope/node): that stage's worst event-loop delay, seconds. */
export const ATTR_EVENTLOOP_BLOCKED = 'hotreload.eventloop.blocked';
/**
 * A certificate's identity on spans (watchTls): the OTel semantic-convention `tls.server.*` keys
 * where they exist, so trace backends that know them show them; the serial has no such key.
 */
export const ATTR_TLS_SUBJECT = 'tls.server.subject';
export const ATTR_TLS_ISSUER = 'tls.server.issuer';
export const ATTR_TLS_FINGERPRINT256 = 'tls.server.hash.sha256';
export const ATTR_TLS_NOT_BEFORE = 'tls.server.not_before';
export const ATTR_TLS_NOT_AFTER = 'tls.server.not_after';
export const ATTR_TLS_SERIAL = 'hotreload.tls.serial_number';
/** Stable semantic-convention key for the class of error. */
export const ATTR_ERROR_TYPE = 'error.type';

export const OUTCOMES = ['success', 'failure', 'timeout', 'rollback', 'unchanged'] as const;
export type ReloadOutcome = (typeof OUTCOMES)[number];

export const STAGES = ['load', 'verify', 'switch', 'unload', 'rollback'] as const;
export type ReloadStage = (typeof STAGES)[number];

/** Outcome of one stage (a subset of the run outcomes). */
export const STAGE_OUTCOMES = ['success', 'failure', 'timeout'] as const;
export type StageOutcome = (typeof STAGE_OUTCOMES)[number];

/**
 * What started a reload. Closed so that metric cardinality stays bounded;
 * anything else is reported as `other`.
 */
export const TRIGGERS = ['startup', 'file', 'signal', 'http', 'api', 'poll', 'other'] as const;
export type ReloadTrigger = (typeof TRIGGERS)[number];

/** error.type values that reloadscope itself produces (user codes come from ReloadError). */
export const ERROR_TYPE_TIMEOUT = 'timeout';
export const ERROR_TYPE_ROLLBACK_FAILED = 'rollback_failed';
export const ERROR_TYPE_OTHER = '_OTHER';

export const SPAN_ROOT = 'hotreload';
export const spanNameForStage = (stage: ReloadStage): string => `hotreload.${stage}`;

/** Why the HTTP reload trigger refused a request's credentials; closed, for bounded cardinality. */
export const ATTR_AUTH_FAILURE_REASON = 'hotreload.auth.reason';
/**
 * `missing`: no Authorization header; `malformed`: not `Bearer <token>`; `wrong`: a token that does
 * not match; `throttled`: refused unexamined because the client failed too often.
 */
export const AUTH_FAILURE_REASONS = ['missing', 'malformed', 'wrong', 'throttled'] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];

/** Which generation a cluster worker belongs to: `starting` (being verified), `current`, `old` (draining). */
export const ATTR_CLUSTER_GENERATION = 'hotreload.cluster.generation';
export const CLUSTER_GENERATIONS = ['starting', 'current', 'old'] as const;
