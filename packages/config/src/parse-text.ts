import { type Document, isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type YAMLError } from 'yaml';

// No import of errors.ts (and so of @reloadscope/core) here: this module also runs in the parse
// worker, whose start-up should load the parser and nothing else.

/** Deeper values are refused: V8 cannot clone them across threads, and recursive consumers (schemas) overflow. */
export const MAX_DEPTH = 1000;
/** Billion-laughs guard: the `yaml` package's own count of nodes reached through aliases. */
export const MAX_ALIAS_COUNT = 100;

export type RejectionCode = 'empty' | 'parse_error';

/** A rejected text, as plain data so it crosses a worker boundary; parse.ts makes it a ConfigError. */
export class Rejection extends Error {
  readonly code: RejectionCode;
  constructor(code: RejectionCode, message: string, cause?: unknown) {
    super(message, { cause });
    this.code = code;
  }
}

/** Parse a decoded config. Throws a Rejection whose message never quotes the text (positions only). */
export function parseText(text: string, format: 'json' | 'yaml'): unknown {
  // An empty file is usually a half-written one (truncate, then write): never a valid config.
  if (!/\S/.test(text)) throw new Rejection('empty', 'config file is empty');
  const value = format === 'json' ? parseJson(text) : parseYaml(text);
  if (format === 'yaml' || mayNestTooDeep(text)) checkDepth(value, format === 'yaml');
  return value;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // JSON.parse messages quote the input, so only the position goes into ours.
    const pos = /position (\d+)/.exec(String((err as Error).message))?.[1];
    throw new Rejection('parse_error', pos === undefined ? 'invalid JSON' : `invalid JSON at position ${pos}`, err);
  }
}

function parseYaml(text: string): unknown {
  const lines = new LineCounter();
  let docs: Document.Parsed[];
  try {
    // uniqueKeys false: the package checks each key against every earlier key of its map
    // (quadratic: 30k keys took 9 s); firstDuplicateKey() does the same check with a Set per map.
    // silent: the package otherwise calls process.emitWarning with snippets of the document,
    // which would put config content into logs.
    docs = parseAllDocuments(text, { uniqueKeys: false, logLevel: 'silent', lineCounter: lines }) as Document.Parsed[];
  } catch (err) {
    throw new Rejection('parse_error', 'invalid YAML', err);
  }
  // `parseDocument` would silently keep the first of several documents; a config is one document.
  if (!Array.isArray(docs) || docs.length === 0) throw new Rejection('empty', 'config holds no YAML document');
  if (docs.length > 1) throw new Rejection('parse_error', `invalid YAML: ${docs.length} documents (---) where one config is expected`);
  const doc = docs[0]!;
  const first = doc.errors[0];
  if (first) throw new Rejection('parse_error', `invalid YAML (${first.code})${at(lines, defectStart(doc, first))}`, doc.errors);
  const duplicate = firstDuplicateKey(doc);
  if (duplicate !== undefined) throw new Rejection('parse_error', `invalid YAML (DUPLICATE_KEY)${at(lines, duplicate)}`);
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // An alias expanding past maxAliasCount, or a stack overflow on a deep document.
    throw new Rejection('parse_error', 'invalid YAML (alias expansion or nesting)', err);
  }
}

function at(lines: LineCounter, offset: number | undefined): string {
  if (offset === undefined) return '';
  const { line, col } = lines.linePos(offset);
  return ` at line ${line}, column ${col}`;
}

type YamlNode = { range?: readonly number[] | null; type?: string; flow?: boolean };

/**
 * The `yaml` package reports an unterminated quoted scalar or flow collection where it noticed
 * the end missing, often the end of the file. The defect starts at the construct that did not
 * close: the innermost quoted scalar or flow collection ending exactly at the error.
 */
function defectStart(doc: Document.Parsed, error: YAMLError): number {
  const offset = error.pos[0];
  if (error.code !== 'MISSING_CHAR' && error.code !== 'BAD_INDENT') return offset;
  let start: number | undefined;
  walk(doc.contents, (node: YamlNode) => {
    const range = node.range;
    if (!range || range[1] !== offset) return;
    const unclosable = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' || node.flow === true;
    if (unclosable && range[0]! < offset && (start === undefined || range[0]! > start)) start = range[0];
  });
  return start ?? offset;
}

/**
 * The offset of the first key (in document order, as the package reports it) equal to an earlier
 * key of the same map, by the package's own notion of equal.
 */
function firstDuplicateKey(doc: Document.Parsed): number | undefined {
  let found: number | undefined;
  walk(doc.contents, (node: unknown) => {
    if (!isMap(node)) return;
    const seen = new Set<unknown>();
    for (const pair of node.items) {
      const key = pair.key;
      // Equal means the same scalar value (`===`); collection keys are never equal to each other.
      const id = key === null ? NO_KEY : isScalar(key) ? key.value : undefined;
      if (id === undefined || (typeof id === 'number' && Number.isNaN(id))) continue;
      if (seen.has(id)) {
        const offset = (isScalar(key) ? key.range?.[0] : undefined) ?? node.range?.[0] ?? 0;
        // A map is visited before its values, so a later pair's duplicate can precede an inner one.
        if (found === undefined || offset < found) found = offset;
        break;
      }
      seen.add(id);
    }
  });
  return found;
}

const NO_KEY = Symbol('no key');

/** Every node once, iteratively (a recursive walk overflows on deep documents). Aliases are not followed. */
function walk<N>(root: unknown, visit: (node: N) => void): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const node = stack.pop();
    if (node === null || typeof node !== 'object') continue;
    if (isPair(node)) {
      stack.push(node.value, node.key);
      continue;
    }
    visit(node as N);
    if (isMap(node) || isSeq(node)) for (let i = node.items.length - 1; i >= 0; i--) stack.push(node.items[i]);
  }
}

/**
 * JSON nests only with brackets: with no more than MAX_DEPTH of them (strings included) the walk is moot.
 * indexOf, not a charCodeAt loop: the native search costs ~1 µs on a 14 KiB config where the loop
 * cost ~26 µs per reload (more than a tenth of the whole reload, test/bench README, section 2),
 * and it stops after MAX_DEPTH + 1 hits whatever the text's size.
 */
function mayNestTooDeep(json: string): boolean {
  let open = 0;
  for (const bracket of OPENING_BRACKETS) {
    for (let i = json.indexOf(bracket); i !== -1; i = json.indexOf(bracket, i + 1)) if (++open > MAX_DEPTH) return true;
  }
  return false;
}

const OPENING_BRACKETS = ['[', '{'] as const;

/**
 * Refuse values nested deeper than MAX_DEPTH. Recursive on purpose (no allocation per node, half
 * the cost of an explicit stack): the recursion itself stops at MAX_DEPTH frames. YAML values can
 * share objects (aliases) and hold cycles, so those are visited once; JSON values cannot.
 */
function checkDepth(value: unknown, shared: boolean): void {
  const seen = shared ? new Set<object>() : undefined;
  const visit = (node: unknown, depth: number): void => {
    if (node === null || typeof node !== 'object' || ArrayBuffer.isView(node)) return;
    if (depth > MAX_DEPTH) throw new Rejection('parse_error', `config nests deeper than ${MAX_DEPTH} levels`);
    if (seen) {
      if (seen.has(node)) return;
      seen.add(node);
    }
    if (Array.isArray(node)) for (const child of node) visit(child, depth + 1);
    else for (const key in node) visit((node as Record<string, unknown>)[key], depth + 1);
  };
  visit(value, 1);
}
