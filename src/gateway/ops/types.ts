/**
 * The shape of one client operation's handler (STYLE.md: one small handler per op behind one
 * dispatcher, as Aedes does per MQTT packet type).
 */
import type { ClientOp, ClientRequest, ClientSuccess } from '../../protocol/index.js';
import type { UpstreamRequest } from '../upstream.js';

/** A successful data port answer. */
export interface DataSuccess {
  epoch: number;
  lsn?: number;
  value?: Uint8Array | null;
}

/** What the gateway does for one op: how it asks the primary, and how it answers the client. */
export interface OpHandler {
  readonly op: ClientOp;
  /** Whether the op changes the shard (used for metrics and logs). */
  readonly writes: boolean;
  /** The data port request for `request`, routed to `shard` at `epoch`. */
  toDataRequest(request: ClientRequest, shard: number, epoch: number): UpstreamRequest;
  /** The client's success response; it always carries `shard` (§5.1). */
  toSuccess(request: ClientRequest, shard: number, answer: DataSuccess): ClientSuccess;
}
