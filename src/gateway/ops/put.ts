import assert from 'node:assert/strict';
import type { ClientSuccess } from '../../protocol/index.js';
import type { OpHandler } from './types.js';

/** `put`: writes the value on the primary; acknowledged once durable there and on its shadows (§2). */
export const putHandler: OpHandler = {
  op: 'put',
  writes: true,
  toDataRequest: (request, shard, epoch) => {
    // The request schema makes `value` required for put, so its absence is a bug.
    assert(request.value !== undefined, 'a parsed put carries a value');
    return { op: 'put', shard, epoch, key: request.key, value: request.value };
  },
  toSuccess: (request, shard, answer) => {
    const success: ClientSuccess = { id: request.id, ok: true, shard };
    if (answer.lsn !== undefined) success.lsn = answer.lsn;
    return success;
  },
};
