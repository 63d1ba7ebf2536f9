/**
 * What reloadscope prints or exports about a URL or a message that may hold one. Endpoints carry
 * credentials in their userinfo (`http://user:password@collector:4318`) and in query parameters
 * (`?token=…`, signed URLs); an error message can quote such a URL. Every package and script that
 * writes a line goes through here, so the rule is kept in one place:
 *
 * - userinfo becomes `***@`;
 * - every query parameter keeps its name and loses its value (`?token=***`): which names are
 *   secret is not knowable, and a printed URL is for reading, not for pasting with its secrets;
 * - a fragment becomes `#***`;
 * - a bare `user:password@host` without a scheme (a forgotten `http://`) loses its userinfo too;
 * - every occurrence of a secret the caller knows (a header value from the environment) is replaced.
 *
 * Pure and total: any string in, a string out, never a throw.
 */

export const REDACTED = '***';

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
/** A scheme, `://` and everything up to whitespace or a character that ends a URL in prose. */
const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]+/gi;
/** `user:password@` (or `token@`) not preceded by `//`: a host written without its scheme. */
const BARE_USERINFO = /(^|[\s"'(=,[])([^\s"'()/@:=,[\]]+:[^\s"'()/@]*|[^\s"'()/@:=,[\]]+:)@(?=[^\s@])/g;
/** `name=value` pairs after a `?` (or `;`/`&`), for text that did not parse as a URL. */
const QUERY_VALUE = /([?&;][^=&#\s?]*=)[^&#\s;]*/g;
/**
 * Known secrets shorter than this are redacted only where their place shows them (userinfo, query):
 * replacing every `ab` in a message would garble it without protecting anything.
 */
export const MIN_KNOWN_SECRET_LENGTH = 4;

/** `url` as it may be printed. Text that is not a URL with a host is redacted as redactSecrets() does. */
export function redactUrl(url: string): string {
  const text = String(url);
  const parsed = SCHEME.test(text) ? URL.parse(text) : null;
  if (parsed === null || parsed.host === '') return redactLoose(text);
  const userinfo = parsed.username !== '' || parsed.password !== '' ? `${REDACTED}@` : '';
  // The parser adds a `/` path to `http://host`; printed as the user wrote it.
  const path = parsed.pathname === '/' && !/\/(?:[?#]|$)/.test(text.slice(text.indexOf('//') + 2)) ? '' : parsed.pathname;
  const query = parsed.search === '' ? '' : `?${[...parsed.searchParams.keys()].map((k) => `${encodeURIComponent(k)}=${REDACTED}`).join('&')}`;
  const fragment = parsed.hash === '' ? '' : `#${REDACTED}`;
  return `${parsed.protocol}//${userinfo}${parsed.host}${path}${query}${fragment}`;
}

/**
 * `text` as it may be printed or exported: every URL in it as redactUrl() gives it, bare
 * `user:password@host` without its userinfo, and each of `known` (length ≥ MIN_KNOWN_SECRET_LENGTH)
 * replaced wherever it appears.
 */
export function redactSecrets(text: string, known: Iterable<string> = []): string {
  let out = String(text);
  // Longest first: a secret that contains another is replaced whole.
  const secrets = [...new Set(known)].filter((s) => typeof s === 'string' && s.length >= MIN_KNOWN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  for (const secret of secrets) out = out.split(secret).join(REDACTED);
  out = out.replace(URL_IN_TEXT, (url) => redactUrl(url));
  return out.replace(BARE_USERINFO, (_all, before: string) => `${before}${REDACTED}@`);
}

/** For a string that does not parse as a URL: everything before its last `@` and every query value. */
function redactLoose(text: string): string {
  let out = text;
  const scheme = SCHEME.exec(out)?.[0];
  if (scheme !== undefined) {
    const at = out.lastIndexOf('@');
    if (at > scheme.length) out = `${scheme}${REDACTED}${out.slice(at)}`;
  } else {
    out = out.replace(BARE_USERINFO, (_all, before: string) => `${before}${REDACTED}@`);
  }
  const hash = out.indexOf('#');
  if (hash >= 0) out = `${out.slice(0, hash)}#${REDACTED}`;
  return out.replace(QUERY_VALUE, `$1${REDACTED}`);
}
