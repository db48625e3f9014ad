/**
 * Durable file primitives. A file that must appear whole or not at all is written to a temporary
 * name, fsynced, renamed over its final name, and then the directory is fsynced so the rename
 * itself survives a crash (POSIX gives rename atomicity, not durability).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Suffix of temporary files; anything ending in it is left over from a crash and is removed on open. */
export const TEMP_SUFFIX = '.tmp';

/** fsyncs a directory so that entries created, renamed or removed in it are durable. */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Creates `dir` and its parents, then fsyncs the parent so the new entry is durable. */
export function ensureDirectory(dir: string): void {
  mkdirSync(dir, { recursive: true });
  fsyncDirectory(dirname(dir));
}

/** Writes `chunks` to `path` atomically: temp file, fsync, rename, directory fsync. */
export function writeFileAtomic(path: string, chunks: readonly Uint8Array[]): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}${TEMP_SUFFIX}`);
  const fd = openSync(temp, 'w');
  try {
    for (const chunk of chunks) {
      let written = 0;
      while (written < chunk.length) written += writeSync(fd, chunk, written, chunk.length - written);
    }
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temp, path);
  fsyncDirectory(dirname(path));
}
