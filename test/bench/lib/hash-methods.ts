/** The hashing paths compared in section 4 (labels shared by the section and its child). */
export const HASH_METHODS = {
  readCapped: '@reloadscope/config readCapped() (hash while reading, keeps the bytes)',
  preallocated: 'suggested fix: same contract, one preallocated buffer, 1 MiB reads',
  streamOnly: 'reference: hash-only stream, one reused 1 MiB buffer',
  wholeFile: '@reloadscope/core sha256Hex(await readFile())',
} as const;
export type HashMethod = keyof typeof HASH_METHODS;
