import { parentPort, workerData } from 'node:worker_threads';
import { parseText, Rejection } from './parse-text.ts';

/** What parse.ts sends: the decoded text (the bytes stay with the caller, who still needs them). */
export interface ParseJob {
  text: string;
  format: 'json' | 'yaml';
}

export type ParseReply = { ok: true; value: unknown } | { ok: false; code: Rejection['code']; message: string };

const job = workerData as ParseJob;
let reply: ParseReply;
try {
  reply = { ok: true, value: parseText(job.text, job.format) };
} catch (err) {
  // Only our own message crosses back: a parser's error (the cause) can quote the config.
  reply = err instanceof Rejection ? { ok: false, code: err.code, message: err.message } : { ok: false, code: 'parse_error', message: 'the parser failed' };
}
try {
  parentPort!.postMessage(reply);
} catch {
  // A value V8 cannot clone (MAX_DEPTH keeps nesting within its limit; this is the backstop).
  parentPort!.postMessage({ ok: false, code: 'parse_error', message: 'the parsed config cannot be handed over from the parse thread' } satisfies ParseReply);
}
