/**
 * The one rule for a URL or a message that may hold one, before it is printed or exported:
 * userinfo, query values and fragments are replaced, known secrets too; what is left says where.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ReloadError } from '../src/errors.ts';
import { REDACTED, redactSecrets, redactUrl } from '../src/redact.ts';
import { setup } from './harness.ts';

test('redactUrl keeps scheme, host, port and path, and replaces userinfo, query values and fragment', () => {
  const cases: Array<[string, string]> = [
    ['http://user:secret@collector:4318', 'http://***@collector:4318'],
    ['http://user:secret@collector:4318/v1/traces', 'http://***@collector:4318/v1/traces'],
    ['https://token@collector/v1/traces', 'https://***@collector/v1/traces'],
    ['https://c:4318/v1/traces?token=abc&region=eu#frag', 'https://c:4318/v1/traces?token=***&region=***#***'],
    ['http://[::1]:4318/v1/traces', 'http://[::1]:4318/v1/traces'],
    ['http://127.0.0.1:16686', 'http://127.0.0.1:16686'],
    ['http://127.0.0.1:16686/', 'http://127.0.0.1:16686/'],
    ['redis://u:pw@h:6379/0', 'redis://***@h:6379/0'],
    // Not URLs a parser accepts, printed anyway when a value is refused: still nothing before the '@'.
    ['http://u:pa/ss@collector:4318/x', 'http://***@collector:4318/x'],
    ['user:secret@collector:4318/v1/traces', '***@collector:4318/v1/traces'],
    ['collector:4318/v1/traces?api_key=k3y', 'collector:4318/v1/traces?api_key=***'],
    ['file:///srv/app/main.js:1:2', 'file:///srv/app/main.js:1:2'],
    ['', ''],
  ];
  for (const [input, printed] of cases) assert.equal(redactUrl(input), printed, input);
});

test('redactSecrets redacts every URL in a text, bare userinfo, and each known secret of 4+ characters', () => {
  assert.equal(
    redactSecrets('cannot export traces to http://user:secret@collector:4318/v1/traces (ECONNREFUSED); see file:///a.js:1:2'),
    'cannot export traces to http://***@collector:4318/v1/traces (ECONNREFUSED); see file:///a.js:1:2',
  );
  assert.equal(redactSecrets('endpoint "user:secret@collector:4318" is not an http(s) URL'), 'endpoint "***@collector:4318" is not an http(s) URL');
  assert.equal(redactSecrets('Header "authorization" has invalid value (Bearer abc123)', ['Bearer abc123', 'abc123']), 'Header "authorization" has invalid value (***)');
  // Too short to replace everywhere: "ab" would garble the text and protect nothing.
  assert.equal(redactSecrets('a tab and a cab', ['ab']), 'a tab and a cab');
  // Plain addresses and host:port stay readable.
  assert.equal(redactSecrets('mail ops@example.com about db:5432'), 'mail ops@example.com about db:5432');
});

test('no password, token or known secret survives, whatever surrounds it', () => {
  const word = fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/);
  const filler = fc.string({ maxLength: 30 }).map((s) => s.replaceAll('SECRET', ''));
  fc.assert(
    fc.property(word, word, word, word, filler, filler, fc.constantFrom('http', 'https', 'ftp', 'redis'), (user, password, token, header, before, after, scheme) => {
      const pw = `SECRETpw${password}`;
      const tok = `SECRETtok${token}`;
      const head = `SECREThd${header}`;
      const text = `${before} ${scheme}://${user}:${pw}@collector:4318/v1/traces?token=${tok} ${after} (value ${head}) ${user}:${pw}@host`;
      const out = redactSecrets(text, [head]);
      assert.ok(!out.includes('SECRET'), `${JSON.stringify(text)} -> ${JSON.stringify(out)}`);
      assert.ok(out.includes(REDACTED));
    }),
    { numRuns: 500 },
  );
  // Total: no input throws.
  fc.assert(fc.property(fc.string(), (s) => typeof redactSecrets(s) === 'string' && typeof redactUrl(s) === 'string'));
});

test('an exported exception message never carries a URL credential, ReloadError or opted-in message alike', async () => {
  const url = 'http://deploy:S3CR3T-pw@upstream.internal:8080/health?token=S3CR3T-tok';
  for (const [errorMessages, thrown] of [
    ['safe', new ReloadError('upstream_down', `${url} did not answer`)],
    ['all', new Error(`fetch ${url} failed`)],
  ] as const) {
    const h = setup({ errorMessages });
    const result = await h.reloads.reload({ target: 'app' }, { load: () => ({}), verify: () => Promise.reject(thrown), switch: () => undefined });
    assert.equal(result.outcome, 'failure');
    assert.match(result.error!.message, /http:\/\/\*\*\*@upstream\.internal:8080\/health\?token=\*\*\*/, 'the message still says where');
    const exported = JSON.stringify((await h.spans()).map((s) => ({ events: s.events, status: s.status, attributes: s.attributes })));
    assert.match(exported, /upstream\.internal/);
    assert.doesNotMatch(`${result.error!.message}\n${exported}`, /S3CR3T/);
  }
});
