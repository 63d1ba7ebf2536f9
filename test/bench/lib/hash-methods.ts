/** The hashing paths compared in section 4 (labels shared by the section and its child). */
export const HASH_METHODS = {
  hashFile: '@reloadscope/config hashFile() (the digest-only path: streamed, two reused 1 MiB buffers)',
  readCapped: '@reloadscope/config readCapped() (hash while reading, keeps the bytes for parsing)',
  preallocated: 'reference: one preallocated buffer, sequential 1 MiB reads (no read/hash overlap)',
  streamOnly: 'reference: hash-only stream, one reused 1 MiB buffer',
  wholeFile: '@reloadscope/core sha256Hex(await readFile())',
} as const;
export type HashMethod = keyof typeof HASH_METHODS;
