import type { ClientSuccess } from '../../protocol/index.js';
import type { OpHandler } from './types.js';

/** `get`: reads the key from the primary; a missing key is `value: null`. */
export const getHandler: OpHandler = {
  op: 'get',
  writes: false,
  toDataRequest: (request, shard, epoch) => ({ op: 'get', shard, epoch, key: request.key }),
  toSuccess: (request, shard, answer) => {
    const success: ClientSuccess = { id: request.id, ok: true, shard, value: answer.value ?? null };
    if (answer.lsn !== undefined) success.lsn = answer.lsn;
    return success;
  },
};
