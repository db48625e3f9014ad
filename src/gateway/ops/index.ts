/** The op dispatcher's table: one handler per client op. */
import type { ClientOp } from '../../protocol/index.js';
import { delHandler } from './del.js';
import { getHandler } from './get.js';
import { putHandler } from './put.js';
import type { OpHandler } from './types.js';

export type { OpHandler, DataSuccess } from './types.js';

/** The handler of each op. The request parser only lets these three ops through. */
export const OP_HANDLERS: Readonly<Record<ClientOp, OpHandler>> = Object.freeze({ get: getHandler, put: putHandler, del: delHandler });
