/**
 * Reading the cluster key that signs coordinator commands (DESIGN.md §5.2, docs/wire-format.md,
 * "Command signing"). The file holds the key as hexadecimal text (64 or more hex digits, the form
 * `openssl rand -hex 32` writes) or, failing that, as raw bytes; either way at least 32 bytes.
 */
import { readFileSync, statSync } from 'node:fs';
import { MIN_KEY_BYTES } from '../protocol/index.js';
import { AgentError } from './errors.js';

/** Largest key file read: a key is 32..64 bytes, so anything near this size is the wrong file. */
export const CLUSTER_KEY_FILE_BYTES_MAX = 4096;

/** Reads and checks the cluster key in `path`; throws `AGENT_BAD_CLUSTER_KEY` with the reason. */
export function readClusterKeyFile(path: string): Uint8Array {
  let raw: Buffer;
  try {
    if (statSync(path).size > CLUSTER_KEY_FILE_BYTES_MAX) {
      throw new AgentError('AGENT_BAD_CLUSTER_KEY', `cluster key file ${path} is larger than ${CLUSTER_KEY_FILE_BYTES_MAX} bytes; is it the right file?`);
    }
    raw = readFileSync(path);
  } catch (error) {
    if (error instanceof AgentError) throw error;
    throw new AgentError('AGENT_BAD_CLUSTER_KEY', `cluster key file ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const text = raw.toString('utf8').trim();
  const key = /^([0-9a-fA-F]{2})+$/.test(text) ? Buffer.from(text, 'hex') : raw;
  if (key.byteLength < MIN_KEY_BYTES) {
    throw new AgentError('AGENT_BAD_CLUSTER_KEY', `cluster key in ${path} is ${key.byteLength} bytes; it must be at least ${MIN_KEY_BYTES} (e.g. \`openssl rand -hex 32 > ${path}\`)`);
  }
  return new Uint8Array(key);
}
