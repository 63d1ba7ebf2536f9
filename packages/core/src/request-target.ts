/**
 * The path an HTTP request-target (RFC 9112 §3.2) asks for, or `undefined` when it names none:
 * asterisk-form (`*`), authority-form (`host:443`), an absolute-form that does not parse or is not
 * http(s), or anything holding bytes outside visible ASCII. Never throws: every listener
 * reloadscope opens routes with it, so that no request-target an unauthenticated client sends can
 * turn into an exception inside a request handler (`new URL(req.url, base)` throws for `//` and
 * `http://[`, which killed the process).
 *
 * Origin-form is taken as sent, up to `?` or `#`, without dot-segment or percent-decoding
 * normalisation: a route matches only the exact path, so `/a/../reload` is not `/reload`.
 * Absolute-form, which servers must accept, is reduced to its path by the WHATWG URL parser.
 */
export function requestPath(target: unknown): string | undefined {
  if (typeof target !== 'string' || target.length === 0 || target.length > MAX_TARGET_LENGTH) return undefined;
  if (NOT_VISIBLE_ASCII.test(target)) return undefined;
  if (target.startsWith('/')) {
    const end = target.search(/[?#]/);
    return end === -1 ? target : target.slice(0, end);
  }
  if (!ABSOLUTE_FORM.test(target)) return undefined;
  return URL.parse(target)?.pathname;
}

/** Far above any real route; keeps the regular expressions' work bounded on hostile input. */
const MAX_TARGET_LENGTH = 8192;
const NOT_VISIBLE_ASCII = /[^\x21-\x7e]/;
const ABSOLUTE_FORM = /^https?:\/\//i;
