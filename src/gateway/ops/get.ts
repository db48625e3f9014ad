import type { OpHandler } from './types.js';

/** `get`: reads the key from the primary; a missing key is `value: null`. */
export const getHandler: OpHandler = {
  op: 'get',
  writes: false,
  toDataRequest: (request, shard, epoch) => ({ op: 'get', shard, epoch, key: request.key }),
  toSuccess: (request, shard, answer) => ({ id: request.id, ok: true, shard, value: answer.value ?? null, ...(answer.lsn === undefined ? {} : { lsn: answer.lsn }) }),
};
