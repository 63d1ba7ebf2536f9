/**
 * The workspace packages as a stranger gets them: what is published, and the tarballs `npm pack`
 * makes of them. Shared by scripts/check-packages.ts and the pack-and-install test.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const ROOT = resolve(import.meta.dirname, '..');
/** Where `repository`, `homepage`, `bugs` and every absolute link in a packaged README point. */
export const REPOSITORY = 'https://github.com/reloadscope/reloadscope';

export interface Manifest {
  name: string;
  version?: string;
  private?: boolean;
  license?: string;
  keywords?: string[];
  homepage?: string;
  bugs?: { url?: string };
  repository?: { type?: string; url?: string; directory?: string };
  engines?: { node?: string };
  workspaces?: string[];
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

export interface Workspace {
  /** Relative to the repository root, e.g. `packages/core` ('' for the root itself). */
  dir: string;
  manifest: Manifest;
}

/**
 * Which reloadscope packages each package's src/ may import: core knows nothing of the others.
 * Enforced by scripts/check-packages.ts; ARCHITECTURE.md's table is checked against it (doc-facts.ts).
 */
export const MAY_IMPORT: Record<string, readonly string[]> = {
  '@reloadscope/core': [],
  '@reloadscope/node': ['@reloadscope/core'],
  '@reloadscope/config': ['@reloadscope/core'],
  '@reloadscope/register': ['@reloadscope/core', '@reloadscope/node'],
  '@reloadscope/cluster': ['@reloadscope/core', '@reloadscope/config', '@reloadscope/register'],
};

export function readManifest(dir: string): Manifest {
  return JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as Manifest;
}

/** Every workspace of the root manifest, examples included, in the order the root lists them. */
export function workspaces(): Workspace[] {
  const dirs = (readManifest('').workspaces ?? []).flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [pattern];
    const parent = pattern.slice(0, -2);
    return readdirSync(join(ROOT, parent), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => `${parent}/${e.name}`)
      .sort();
  });
  return dirs.map((dir) => ({ dir, manifest: readManifest(dir) }));
}

/** The workspaces that are published to the npm registry (not private). */
export function published(): Workspace[] {
  return workspaces().filter((w) => !w.manifest.private);
}

export interface Packed {
  name: string;
  dir: string;
  /** Absolute path of the .tgz. */
  tarball: string;
  /** Paths inside the tarball, relative to the package root. */
  files: string[];
}

/** `npm pack` every published workspace into `dest` (dist/ must be built: `tsc -b`). */
export async function packAll(dest: string): Promise<Packed[]> {
  const dirs = published().map((w) => w.dir);
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dest, ...dirs.flatMap((d) => ['-w', d])], {
    cwd: ROOT,
    maxBuffer: 64 * 1024 * 1024,
  });
  const out = JSON.parse(stdout) as Array<{ name: string; filename: string; files: Array<{ path: string }> }>;
  return out.map((p) => ({
    name: p.name,
    dir: dirs[published().findIndex((w) => w.manifest.name === p.name)]!,
    tarball: join(dest, p.filename),
    files: p.files.map((f) => f.path),
  }));
}

/**
 * Links in a Markdown text that are not absolute URLs or in-page anchors. On the registry's package
 * page a relative link resolves against nothing the reader has (`../core`, `../../README.md`).
 */
export function relativeLinks(markdown: string): string[] {
  const targets = [
    ...[...markdown.matchAll(/\]\(\s*<?([^)\s>]+)/g)].map((m) => m[1]!), // [text](target) and ![alt](target)
    ...[...markdown.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]!), // [ref]: target
    ...[...markdown.matchAll(/\b(?:href|src)\s*=\s*["']([^"']+)["']/gi)].map((m) => m[1]!), // <a href>, <img src>
  ];
  return targets.filter((t) => !/^(?:https?:|mailto:|#)/i.test(t));
}
