/**
 * `npm run lint:packages` (part of `npm test`): the packages as a stranger installs them. Packs every
 * published workspace, then checks each tarball offline with publint (package.json vs. files) and
 * @arethetypeswrong/cli (types resolve under every TypeScript module resolution), plus what those do
 * not cover: the registry metadata of every manifest, truthful `engines`, the LICENSE text, and READMEs
 * whose links still work on the registry's package page.
 *
 * It also holds the package boundaries (ARCHITECTURE.md, "Packages"): which workspace package's
 * sources may import which, and that every other import is a declared dependency or a `node:` builtin.
 * And the source rules of scripts/source-rules.ts: patterns that were defects, refused everywhere.
 *
 * attw rule ignored, and why: `cjs-resolves-to-esm`. The packages are ESM only; every Node their
 * `engines` admits (>= 22.12) loads them with `require()` too (require(esm), checked by the
 * pack-and-install test), which attw's resolution model does not know.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Manifest, MAY_IMPORT, packAll, REPOSITORY, ROOT, readManifest, relativeLinks, workspaces } from './packages.ts';
import { sourceProblems } from './source-rules.ts';

const run = promisify(execFile);
const bin = (name: string) => join(ROOT, 'node_modules/.bin', name);

const problems: string[] = [];
const problem = (where: string, what: string) => problems.push(`${where}: ${what}`);

/** `>=22.15` / `>=22.15.0` → [22, 15, 0]; anything else is undefined (not a plain minimum). */
function minimum(range: string | undefined): [number, number, number] | undefined {
  const m = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(range?.trim() ?? '');
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : undefined;
}
const compare = (a: number[], b: number[]) => a[0]! - b[0]! || a[1]! - b[1]! || a[2]! - b[2]!;

function checkMetadata(dir: string, m: Manifest): void {
  const where = dir === '' ? 'package.json' : `${dir}/package.json`;
  if (m.license !== 'Apache-2.0') problem(where, `license is ${m.license}, not Apache-2.0`);
  if (!Array.isArray(m.keywords) || m.keywords.length === 0) problem(where, 'no keywords');
  const home = dir === '' ? `${REPOSITORY}#readme` : `${REPOSITORY}/tree/main/${dir}#readme`;
  if (m.homepage !== home) problem(where, `homepage is ${m.homepage}, expected ${home}`);
  if (m.bugs?.url !== `${REPOSITORY}/issues`) problem(where, `bugs.url is ${m.bugs?.url}, expected ${REPOSITORY}/issues`);
  if (m.repository?.type !== 'git' || m.repository.url !== `git+${REPOSITORY}.git`) problem(where, `repository.url is not git+${REPOSITORY}.git`);
  if ((m.repository?.directory ?? '') !== dir) problem(where, `repository.directory is ${m.repository?.directory}, expected ${dir || 'none'}`);
  if (!minimum(m.engines?.node)) problem(where, `engines.node must be a plain minimum (">=MAJOR.MINOR"), is ${m.engines?.node}`);
}

/** The manifest of a dependency as installed for the package in `dir`. */
function installed(dir: string, dep: string): Manifest | undefined {
  for (const base of [join(ROOT, dir), ROOT]) {
    const path = join(base, 'node_modules', dep, 'package.json');
    if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  }
  return undefined;
}

const root = readManifest('');
checkMetadata('', root);
const repoMinimum = minimum(root.engines?.node);
const all = workspaces();
for (const { dir, manifest } of all) {
  checkMetadata(dir, manifest);
  const own = minimum(manifest.engines?.node);
  if (!own || !repoMinimum) continue;
  // Examples run .ts sources like the rest of the repository; published packages run their dist/ JS,
  // so their floor is their dependencies' (and never above the repository's, which tests them).
  if (manifest.private && compare(own, repoMinimum) !== 0) problem(dir, `engines.node ${manifest.engines?.node} differs from the root's ${root.engines?.node}`);
  if (!manifest.private) {
    if (compare(own, repoMinimum) > 0) problem(dir, `engines.node ${manifest.engines?.node} is above the root's ${root.engines?.node}`);
    for (const dep of Object.keys(manifest.dependencies ?? {})) {
      const needs = minimum(installed(dir, dep)?.engines?.node);
      if (needs && compare(own, needs) < 0) problem(dir, `engines.node ${manifest.engines?.node} admits Node versions that ${dep} refuses (${needs.join('.')})`);
    }
  }
}


/** Package names imported (statically or dynamically) by the .ts files under `dir`/src. */
function importedPackages(dir: string): Map<string, string> {
  const found = new Map<string, string>();
  const src = join(ROOT, dir, 'src');
  for (const file of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts')) continue;
    const text = readFileSync(join(src, file), 'utf8');
    for (const m of text.matchAll(/^\s*(?:import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      if (spec.startsWith('.') || spec.startsWith('node:')) continue;
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      if (!found.has(name)) found.set(name, `${dir}/src/${file}`);
    }
  }
  return found;
}

for (const { dir, manifest } of all.filter((w) => !w.manifest.private)) {
  const allowed = MAY_IMPORT[manifest.name];
  if (!allowed) {
    problem(dir, `${manifest.name} has no entry in MAY_IMPORT (scripts/packages.ts): say which packages it may import`);
    continue;
  }
  const declared = new Set([...Object.keys(manifest.dependencies ?? {}), ...Object.keys(manifest.peerDependencies ?? {})]);
  for (const [name, file] of importedPackages(dir)) {
    if (name === manifest.name) problem(file, `imports its own package name ${name}: use a relative import`);
    else if (name.startsWith('@reloadscope/') && !allowed.includes(name)) problem(file, `imports ${name}; ${manifest.name} may import only ${allowed.join(', ') || 'no other reloadscope package'}`);
    else if (!declared.has(name)) problem(file, `imports ${name}, which ${dir}/package.json does not declare (dependencies or peerDependencies)`);
  }
}

// Patterns that were defects (a falsy default over a valid 0, a shared listen in a cluster worker,
// an unguarded HTTP listener): scripts/source-rules.ts.
for (const found of sourceProblems()) problems.push(found);

const license = readFileSync(join(ROOT, 'LICENSE'), 'utf8');
if (!license.includes('Apache License') || !license.includes('Version 2.0, January 2004')) problem('LICENSE', 'is not the Apache-2.0 text');

const dest = await mkdtemp(join(tmpdir(), 'reloadscope-pack-'));
try {
  for (const pkg of await packAll(dest)) {
    const where = `${pkg.dir} (${pkg.name})`;
    if (!pkg.files.includes('LICENSE')) problem(where, 'the tarball has no LICENSE');
    else if (readFileSync(join(ROOT, pkg.dir, 'LICENSE'), 'utf8') !== license) problem(where, 'LICENSE differs from the root LICENSE');
    if (!pkg.files.includes('README.md')) problem(where, 'the tarball has no README.md');
    else for (const link of relativeLinks(readFileSync(join(ROOT, pkg.dir, 'README.md'), 'utf8'))) problem(where, `README.md links to "${link}", which is dead on the registry's page: use ${REPOSITORY}/…`);

    const tools: Array<[string, string[]]> = [
      ['publint', ['run', pkg.tarball, '--strict']],
      ['attw', [pkg.tarball, '--no-definitely-typed', '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'table-flipped', '--no-color', '--no-emoji']],
    ];
    for (const [tool, args] of tools) {
      try {
        await run(bin(tool), args, { cwd: dest, maxBuffer: 16 * 1024 * 1024 });
      } catch (err) {
        const e = err as { stdout?: string; stderr?: string; message: string };
        problem(where, `${tool} reports:\n${(e.stdout ?? '') + (e.stderr ?? '') || e.message}`);
      }
    }
  }
} finally {
  await rm(dest, { recursive: true, force: true });
}

if (problems.length > 0) {
  console.error(`check-packages: ${problems.length} problem(s)\n${problems.map((p) => `- ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(`check-packages: ${all.length + 1} manifests, ${all.filter((w) => !w.manifest.private).length} tarballs: publint, attw, import boundaries, source rules, metadata, engines, LICENSE, README links all pass`);
