// Shared helpers of the store tests: temporary data directories, a seeded PRNG, a quiet logger
// that keeps events for assertions, and a pipe that feeds a primary's frames to shadows.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Replica, type ReplicaOptions, type ReplicationFrame } from '../../src/store/index.js';
import { mulberry32 as seededRandom } from '../../src/common/random.js';

/** A fresh directory under the OS temp dir; removed by `cleanup`. */
export function tempDataDir(label: string): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), `foreshard-${label}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Mulberry32: small, fast, seeded; good enough to pick sizes and kill moments. */
export { seededRandom };

/** The seed of a randomized test: FORESHARD_TEST_SEED if set, else random. Printed on failure by the caller. */
export function testSeed(): number {
  const fromEnv = process.env['FORESHARD_TEST_SEED'];
  return fromEnv !== undefined ? Number(fromEnv) : Math.floor(Math.random() * 2 ** 31);
}

/** A logger that records events instead of printing them. */
export function recordingLogger(): { events: { level: string; event: string; fields: Record<string, unknown> }[]; logger: ReplicaOptions['logger'] } {
  const events: { level: string; event: string; fields: Record<string, unknown> }[] = [];
  return { events, logger: (level, event, fields) => events.push({ level, event, fields }) };
}

/** Opens a replica with quiet logging and test-friendly defaults. */
export function openReplica(options: Partial<ReplicaOptions> & Pick<ReplicaOptions, 'dataDir' | 'shard'>): Promise<Replica> {
  return Replica.open({ logger: () => {}, batchMs: 1, ...options });
}

/** Copies a frame, as a network hop would (the receiver must not share the sender's buffers). */
export function copyFrame(frame: ReplicationFrame): ReplicationFrame {
  const copy: ReplicationFrame = { ...frame, key: Uint8Array.from(frame.key) };
  if (frame.value) copy.value = Uint8Array.from(frame.value);
  if (frame.delta) copy.delta = Uint8Array.from(frame.delta);
  return copy;
}

export const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');
