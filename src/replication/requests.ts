/**
 * Gateway requests on the data port (DESIGN.md §5.3): get, put and del on a shard's primary, with
 * the epoch check of §2. A put or del is answered only once it is durable here and received
 * durably by `minShadowAcks` shadows; a write that cannot get there in time fails UNAVAILABLE or
 * TIMEOUT, never succeeds early.
 */
import type { DataPortError, DataRequestFrame, DataResponseFrame } from '../protocol/index.js';
import { isStoreError, type Replica } from '../store/index.js';
import type { HostContext } from './context.js';
import { isReplicationError } from './errors.js';
import type { ShardPublisher } from './publisher.js';

/** A shard as the data port sees it. */
export interface ServedShard {
  replica: Replica;
  /** Present while the replica is primary or fenced. */
  publisher: ShardPublisher | undefined;
  /** The primary this replica knows of, when it is not the primary itself (demote, follow). */
  primary: string | null;
  /** True once demoted: writes get MOVED rather than FENCED. */
  demoted: boolean;
}

function failure(rid: number, error: DataPortError): DataResponseFrame {
  return { type: 'response', rid, ok: false, error };
}

/** MOVED or FENCED when this replica is not the primary at the request's epoch; undefined when it is. */
export function routingError(served: ServedShard, epoch: number, node: string): DataPortError | undefined {
  const replica = served.replica;
  if (replica.role === 'primary' && epoch === replica.epoch) return undefined;
  if (replica.role === 'fenced' && !served.demoted && epoch === replica.epoch) {
    return { code: 'FENCED', message: `shard ${replica.options.shard} is fenced at epoch ${replica.epoch} for a switch; hold and retry`, epoch: replica.epoch };
  }
  // A primary at a newer epoch than the gateway's route knows it is the primary; at an older one it does not know who is.
  const primary = replica.role === 'primary' ? (epoch < replica.epoch ? node : null) : served.primary;
  return { code: 'MOVED', message: `shard ${replica.options.shard} is ${replica.role} here at epoch ${replica.epoch}`, epoch: replica.epoch, primary };
}

/** The data port error for an error thrown by the store or the ack wait. */
export function toPortError(error: unknown, served: ServedShard, node: string): DataPortError {
  const message = (error as Error).message ?? String(error);
  if (isStoreError(error)) {
    switch (error.code) {
      case 'KEY_TOO_LARGE':
      case 'VALUE_TOO_LARGE':
        return { code: 'TOO_LARGE', message };
      case 'MOVED':
        return routingError(served, -1, node) ?? { code: 'MOVED', message, epoch: served.replica.epoch, primary: served.primary };
      case 'SHARD_MEMORY_LIMIT':
      case 'TOO_MANY_IN_FLIGHT':
      case 'CLOSED':
        return { code: 'UNAVAILABLE', message };
      default:
        return { code: 'INTERNAL', message };
    }
  }
  if (isReplicationError(error)) {
    if (error.code === 'TIMEOUT') return { code: 'TIMEOUT', message };
    return { code: 'UNAVAILABLE', message };
  }
  return { code: 'INTERNAL', message };
}

/** Serves one request; never throws (every failure becomes a failed response). */
export async function serveRequest(frame: DataRequestFrame, served: ServedShard | undefined, context: HostContext): Promise<DataResponseFrame> {
  const node = context.options.node;
  if (!served) return failure(frame.rid, { code: 'UNKNOWN_SHARD', message: `node ${node} holds no replica of shard ${frame.shard}` });
  const refused = routingError(served, frame.epoch, node);
  if (refused) return failure(frame.rid, refused);
  // `foreshard chaos error-rate`: the store fails this request as a disk would, before applying
  // anything, so a failed write is never applied; the gateway sees an agent error (INTERNAL).
  if (context.options.chaos?.shouldFailRequest()) {
    return failure(frame.rid, { code: 'INTERNAL', message: `I/O error (EIO) on node ${node}, injected by foreshard chaos error-rate` });
  }
  const replica = served.replica;
  if (frame.op === 'get') {
    return { type: 'response', rid: frame.rid, ok: true, epoch: replica.epoch, value: replica.get(frame.key) ?? null };
  }
  const lsnBefore = replica.lastLsn;
  const durable = frame.op === 'put' ? replica.put(frame.key, frame.value!) : replica.del(frame.key);
  const lsn = replica.lastLsn;
  try {
    // An unchanged lsn means the store refused the write before accepting it; `durable` rejects with why.
    await (lsn === lsnBefore ? durable : Promise.all([durable, served.publisher!.acks.wait(lsn)]));
    return { type: 'response', rid: frame.rid, ok: true, epoch: replica.epoch, lsn };
  } catch (error) {
    return failure(frame.rid, toPortError(error, served, node));
  }
}
