import type { OpHandler } from './types.js';

/** `del`: deletes the key on the primary (deleting a missing key succeeds). */
export const delHandler: OpHandler = {
  op: 'del',
  writes: true,
  toDataRequest: (request, shard, epoch) => ({ op: 'del', shard, epoch, key: request.key }),
  toSuccess: (request, shard, answer) => ({ id: request.id, ok: true, shard, ...(answer.lsn === undefined ? {} : { lsn: answer.lsn }) }),
};
