/**
 * The application's own rules code, as it was before reloadscope: read a JSON file of blocked
 * patterns, compile it, swap it in. Nothing here knows about telemetry.
 */
import { readFile } from 'node:fs/promises';
import { ReloadError } from '@reloadscope/core';

export interface RuleSet {
  readonly patterns: readonly RegExp[];
}

let active: RuleSet = { patterns: [] };

export const activeRules = (): RuleSet => active;

export function readRules(path: string, signal?: AbortSignal): Promise<string> {
  return readFile(path, { encoding: 'utf8', signal });
}

/**
 * Throws ReloadError values with stable codes. Their messages are ours and never quote the file
 * (a JSON.parse message would), so reloadscope may put them on spans.
 */
export function compileRules(text: string): RuleSet {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ReloadError('parse_error', 'rules file is not valid JSON', { cause });
  }
  const blocked = (parsed as { blocked?: unknown } | null)?.blocked;
  if (!Array.isArray(blocked)) throw new ReloadError('invalid_rules', '"blocked" must be a list of patterns');
  const patterns = blocked.map((source, i) => {
    try {
      return new RegExp(String(source), 'i');
    } catch (cause) {
      throw new ReloadError('invalid_rules', `blocked[${i}] is not a valid regular expression`, { cause });
    }
  });
  return { patterns };
}

/** Make `next` active; returns what it replaced. */
export function swapRules(next: RuleSet): RuleSet {
  const previous = active;
  active = next;
  return previous;
}
