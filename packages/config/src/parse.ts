import { isReloadError } from '@reloadscope/core';
import { parseAllDocuments } from 'yaml';
import { ConfigError } from './errors.ts';

/** A user parser gets the raw bytes; throw to reject (the message is kept only as `cause`). */
export type ConfigParser<T = unknown> = (bytes: Uint8Array) => T | Promise<T>;
export type ConfigFormat = 'json' | 'yaml' | ConfigParser;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** Decode strictly: binary garbage is a parse error, not a string full of U+FFFD. */
function decode(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch (err) {
    throw new ConfigError('parse_error', 'config is not valid UTF-8', { cause: err, stage: 'load' });
  }
}

export async function parseConfig(bytes: Uint8Array, format: ConfigFormat): Promise<unknown> {
  if (typeof format === 'function') {
    try {
      return await format(bytes);
    } catch (err) {
      // isReloadError first: it never touches the value, and `instanceof` on a Proxy can throw.
      if (isReloadError(err) && err instanceof ConfigError) throw err;
      throw new ConfigError('parse_error', 'custom parser rejected the config', { cause: err, stage: 'load' });
    }
  }
  return parseBuiltin(bytes, format);
}

/** The built-in formats, synchronously: the reload path calls this without a promise per parse. */
export function parseBuiltin(bytes: Uint8Array, format: 'json' | 'yaml'): unknown {
  const text = decode(bytes);
  // An empty file is usually a half-written one (truncate, then write): never a valid config.
  if (!/\S/.test(text)) throw new ConfigError('empty', 'config file is empty', { stage: 'load' });
  if (format === 'json') return parseJson(text);
  if (format === 'yaml') return parseYaml(text);
  throw new TypeError(`unknown config format ${JSON.stringify(format)}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    // JSON.parse messages quote the input, so only the position goes into ours.
    const pos = /position (\d+)/.exec(String((err as Error).message))?.[1];
    throw new ConfigError('parse_error', pos === undefined ? 'invalid JSON' : `invalid JSON at position ${pos}`, {
      cause: err,
      stage: 'load',
    });
  }
}

function parseYaml(text: string): unknown {
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    // silent: the yaml package otherwise calls process.emitWarning with snippets of the document,
    // which would put config content into logs.
    docs = parseAllDocuments(text, { uniqueKeys: true, logLevel: 'silent' });
  } catch (err) {
    throw new ConfigError('parse_error', 'invalid YAML', { cause: err, stage: 'load' });
  }
  // `parseDocument` would silently keep the first of several documents; a config is one document.
  if (!Array.isArray(docs) || docs.length === 0) throw new ConfigError('empty', 'config holds no YAML document', { stage: 'load' });
  if (docs.length > 1) {
    throw new ConfigError('parse_error', `invalid YAML: ${docs.length} documents (---) where one config is expected`, { stage: 'load' });
  }
  const doc = docs[0]!;
  const first = doc.errors[0];
  if (first) {
    const at = first.linePos?.[0];
    const where = at ? ` at line ${at.line}, column ${at.col}` : '';
    throw new ConfigError('parse_error', `invalid YAML (${first.code})${where}`, { cause: doc.errors, stage: 'load' });
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError('parse_error', 'invalid YAML (alias expansion)', { cause: err, stage: 'load' });
  }
}
