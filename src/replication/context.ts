/** What the parts of a ShardHost share: options, the bandwidth cap, counters and the logger. */
import type { ShardHostOptions } from './options.js';
import type { TokenBucket } from './token-bucket.js';
import type { ReplicationStats } from './types.js';

export interface HostContext {
  readonly options: Readonly<ShardHostOptions>;
  readonly bucket: TokenBucket;
  /** Mutable counters behind `ShardHost.stats()`. */
  readonly stats: ReplicationStats;
  log(level: 'info' | 'warn' | 'error', event: string, fields: Record<string, unknown>): void;
}

/** All counters at zero. */
export function emptyStats(): ReplicationStats {
  return {
    shards: 0, connections: 0, framesSent: 0, frameBytesSent: 0, frameBytesLiteralEquivalent: 0, deltaFramesSent: 0, snapshotsSent: 0,
    snapshotsInstalled: 0, framesReceived: 0, frameBytesReceived: 0, acksReceived: 0, resyncsSent: 0, resyncsServed: 0, requests: 0,
    requestErrors: 0, writesAcknowledged: 0, writesUnavailable: 0, writesTimedOut: 0, badFrames: 0, connectionsClosedForBackpressure: 0, conflictFiles: 0,
  };
}

/** Resolves after `ms` (real time: network pacing, not the replica clock), or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms).unref();
    signal?.addEventListener('abort', done, { once: true });
  });
}
