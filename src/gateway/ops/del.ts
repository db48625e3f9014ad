import type { ClientSuccess } from '../../protocol/index.js';
import type { OpHandler } from './types.js';

/** `del`: deletes the key on the primary (deleting a missing key succeeds). */
export const delHandler: OpHandler = {
  op: 'del',
  writes: true,
  toDataRequest: (request, shard, epoch) => ({ op: 'del', shard, epoch, key: request.key }),
  toSuccess: (request, shard, answer) => {
    const success: ClientSuccess = { id: request.id, ok: true, shard };
    if (answer.lsn !== undefined) success.lsn = answer.lsn;
    return success;
  },
};
