/**
 * The variables register (and `reloadscope-cluster`, which boots through it) reads that carry
 * credentials, and the secrets in their values. Every line register writes — its own reports and
 * the OpenTelemetry diag lines it prints for OTEL_LOG_LEVEL — goes through core's redactSecrets()
 * with these: the upstream exporter quotes a header value or an unparsable endpoint verbatim in its
 * diag messages, where no URL shape shows that it is a secret.
 */

/** Every signal's: register exports traces only, but the upstream exporters read the others too. */
export const ENDPOINT_VARIABLES = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
  'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT',
];
export const HEADER_VARIABLES = [
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
  'OTEL_EXPORTER_OTLP_METRICS_HEADERS',
  'OTEL_EXPORTER_OTLP_LOGS_HEADERS',
];
/** Variables whose whole value is a secret. */
export const TOKEN_VARIABLES = ['RELOADSCOPE_CLUSTER_HTTP_TOKEN'];
/** A header value like `Bearer abc…` also appears split: its longer words are secrets on their own. */
const MIN_WORD = 8;

type Env = Readonly<Record<string, string | undefined>>;

/** Every secret value in the credential-bearing variables of `env`, raw and percent-decoded. */
export function credentialsIn(env: Env): string[] {
  const found = new Set<string>();
  const add = (value: unknown) => {
    if (typeof value !== 'string') return;
    const trimmed = value.trim();
    if (trimmed === '') return;
    found.add(trimmed);
    const decoded = decode(trimmed);
    if (decoded !== undefined) found.add(decoded);
  };
  for (const key of ENDPOINT_VARIABLES) {
    const value = env[key];
    if (typeof value === 'string') for (const secret of urlSecrets(value)) add(secret);
  }
  for (const key of HEADER_VARIABLES) {
    const value = env[key];
    for (const entry of typeof value === 'string' ? value.split(',') : []) {
      const eq = entry.indexOf('=');
      // An entry without '=' may be a value whose key was forgotten: a secret all the same.
      const secret = eq < 0 ? entry : entry.slice(eq + 1);
      add(secret);
      for (const word of (decode(secret.trim()) ?? secret).split(/\s+/)) if (word.length >= MIN_WORD) add(word);
    }
  }
  for (const key of TOKEN_VARIABLES) add(env[key]);
  return [...found];
}

/**
 * Userinfo (whole and each part) and query values of a URL, parsed or not, and the Basic
 * credentials an HTTP client sends for that userinfo (a Collector's refusal may echo them).
 */
function urlSecrets(value: string): string[] {
  const parsed = URL.parse(value.trim());
  if (parsed !== null && parsed.host !== '') {
    const basic = parsed.username || parsed.password ? [Buffer.from(`${decode(parsed.username) ?? parsed.username}:${decode(parsed.password) ?? parsed.password}`).toString('base64')] : [];
    return [parsed.username, parsed.password, ...parsed.searchParams.values(), parsed.hash.slice(1), ...basic].filter(Boolean);
  }
  const out: string[] = [];
  const afterScheme = value.replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  const at = afterScheme.lastIndexOf('@');
  if (at > 0) {
    const userinfo = afterScheme.slice(0, at);
    out.push(userinfo, ...userinfo.split(':'));
  }
  const query = afterScheme.indexOf('?');
  if (query >= 0) {
    for (const pair of afterScheme.slice(query + 1).split(/[&#;]/)) out.push(pair.slice(pair.indexOf('=') + 1));
  }
  return out.filter(Boolean);
}

function decode(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}
