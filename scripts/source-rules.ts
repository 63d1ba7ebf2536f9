/**
 * Source patterns that were defects here, refused wherever they appear so that they cannot come
 * back. Run by scripts/check-packages.ts (`npm run lint:packages`, part of `npm test`); each rule is
 * shown to catch its pattern by test/lint/source-rules.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './packages.ts';

export interface SourceRule {
  name: string;
  /** Which repository paths (relative, `/`-separated) the rule reads. */
  applies: (path: string) => boolean;
  /** The problem lines of one file's text (1-based line numbers). */
  find: (text: string) => number[];
  why: string;
}

const CODE = /\.(ts|mts|cts|js|mjs|cjs)$/;
const PACKAGE_SOURCE = /^packages\/[^/]+\/src\/.+\.ts$/;

function matchingLines(text: string, pattern: RegExp): number[] {
  const lines: number[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (/^\s*(\/\/|\*)/.test(line)) continue; // comments may quote a pattern
    if (pattern.test(line)) lines.push(i + 1);
  }
  return lines;
}

export const SOURCE_RULES: SourceRule[] = [
  {
    name: 'falsy-default',
    applies: (path) => CODE.test(path),
    // `Number(x) || 1000`, `parseInt(x) || 0`, `x || 500`: the default also replaces a valid 0.
    find: (text) => matchingLines(text, /\b(?:Number|parseInt|parseFloat)\((?:[^()]|\([^()]*\))*\)\s*\|\||\|\|=?\s*-?\.?\d/),
    why: 'a default after || also replaces a valid 0 (idleCloseMs: 0 became 1000): use ?? or check the value',
  },
  {
    name: 'shared-listen',
    applies: (path) => PACKAGE_SOURCE.test(path),
    find: (text) => matchingLines(text, /\.listen\((?![^)]*\bexclusive:\s*true\b)/),
    why: 'without exclusive: true a listen in a cluster worker is one round-robin handle shared by every worker (port 0 included)',
  },
  {
    name: 'unguarded-listener',
    applies: (path) => PACKAGE_SOURCE.test(path),
    find: (text) => {
      const creates = /import\s*\{[^}]*\bcreateServer\b[^}]*\}\s*from\s*'node:http'/.test(text);
      if (!creates || text.includes('guardListener(')) return [];
      return matchingLines(text, /\bcreateServer\(/);
    },
    why: "an HTTP listener without core's guardListener lets silent connections keep real requests out and outlive the header limit",
  },
];

/** Every problem of `text` as `path:line: rule: why`. */
export function checkSource(path: string, text: string, rules: SourceRule[] = SOURCE_RULES): string[] {
  return rules.filter((r) => r.applies(path)).flatMap((r) => r.find(text).map((line) => `${path}:${line}: ${r.name}: ${r.why}`));
}

/** The rules' own test, whose samples of each pattern must stay literal. */
const EXEMPT = new Set(['test/lint/source-rules.test.ts']);

/** Every problem in the repository's files (tracked, or new and not ignored). */
export function sourceProblems(root = ROOT): string[] {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const files = [...new Set(listed.split('\0').filter(Boolean))].filter((f) => !EXEMPT.has(f) && SOURCE_RULES.some((r) => r.applies(f)));
  return files.flatMap((f) => {
    let text: string;
    try {
      text = readFileSync(join(root, f), 'utf8');
    } catch {
      return []; // deleted in the working tree
    }
    return checkSource(f, text);
  });
}
