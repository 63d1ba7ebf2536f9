/**
 * A URL as it may be printed: without its userinfo (`user:password@`), which can hold a
 * credential. Works on the raw string, so a value that is not a valid URL (and is being reported
 * for exactly that reason) is stripped the same way.
 */
export function withoutUserinfo(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^/?#]*@/i, '$1');
}
