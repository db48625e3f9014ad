/**
 * Frames of the agent data port (DESIGN.md §5.3): WebSocket binary frames, each one CBOR map with a
 * `type` field. Two conversations share the port:
 *
 * - **gateway → primary**: `request` / `response`, paired by `rid` (unique per connection). Every
 *   request carries the shard and the epoch the gateway routed by; a replica that is not the
 *   primary at that epoch answers `MOVED` with its current epoch (and the primary it knows).
 * - **shadow ↔ primary**: the shadow opens the connection and sends `resync` with the first lsn it
 *   lacks; the primary streams `frame`s from there (or `snapshot` chunks first, when its log no longer
 *   holds that lsn); the shadow answers `ack` with its durable received lsn (cumulative).
 *
 * Either side opens with `hello` (carrying a bearer token when auth is on) and the other answers
 * `welcome` or `error` followed by a close.
 */
import { decodeCbor, encodeCbor } from './cbor.js';
import { epochSchema, idSchema, lsnSchema, shardIdSchema, timestampMsSchema } from './common.js';
import { DEFAULT_CLIENT_LIMITS, FRAME_OVERHEAD_BYTES, MAX_ERROR_MESSAGE_LENGTH, MAX_SNAPSHOT_CHUNK_BYTES, MAX_SNAPSHOT_CHUNK_ENTRIES, MAX_TOKEN_LENGTH, type ClientLimits } from './limits.js';
import { ProtocolError } from './errors.js';
import { array, boolean, bytes, literal, nullable, object, oneOf, optional, refine, string, uint, validate, variants, type Schema } from './schema.js';

/** The data port protocol version in `hello` and `welcome`. */
export const DATA_PORT_VERSION = 1;

/** Who opens a data port connection. */
export type DataPortRole = 'gateway' | 'shadow' | 'cli';

/** First frame of a connection. `token` is a bearer token (see `tokens.ts`) when auth is on. */
export interface HelloFrame {
  type: 'hello';
  version: number;
  role: DataPortRole;
  /** The sender's node id (shadows) or instance name (gateways). */
  node: string;
  token?: string;
}

/** The answer to a good `hello`. */
export interface WelcomeFrame {
  type: 'welcome';
  version: number;
  node: string;
}

/** A gateway's forwarded client operation. */
export interface DataRequestFrame {
  type: 'request';
  /** Pairs the response; unique among this connection's requests in flight. */
  rid: number;
  op: 'get' | 'put' | 'del';
  shard: number;
  /** The epoch the gateway routed by; a replica refuses any other. */
  epoch: number;
  key: Uint8Array;
  /** Present exactly for `put`. */
  value?: Uint8Array;
}

/** Why the data port refused a request or a connection. */
export type DataPortErrorCode =
  /** This replica is not the primary at the request's epoch; `epoch` and `primary` say where to go. */
  | 'MOVED'
  /** A replication frame, resync or request carries an epoch lower than this replica's. */
  | 'STALE_EPOCH'
  /** This node holds no replica of the shard. */
  | 'UNKNOWN_SHARD'
  /** The primary is fenced for a switch; the gateway should hold the request and retry. */
  | 'FENCED'
  /** A replication frame's lsn is not the next one; the shadow sends `resync`. */
  | 'GAP'
  | 'TOO_LARGE'
  | 'BAD_REQUEST'
  | 'UNAUTHORIZED'
  /** Not enough shadows acknowledged in time; the write may or may not be durable. */
  | 'TIMEOUT'
  | 'UNAVAILABLE'
  | 'INTERNAL';

/** Every {@link DataPortErrorCode}. */
export const DATA_PORT_ERROR_CODES = [
  'MOVED',
  'STALE_EPOCH',
  'UNKNOWN_SHARD',
  'FENCED',
  'GAP',
  'TOO_LARGE',
  'BAD_REQUEST',
  'UNAUTHORIZED',
  'TIMEOUT',
  'UNAVAILABLE',
  'INTERNAL',
] as const satisfies readonly DataPortErrorCode[];

/** The `error` of a failed response, and the body of an `error` frame. */
export interface DataPortError {
  code: DataPortErrorCode;
  message: string;
  /** With MOVED and STALE_EPOCH: this replica's current epoch of the shard. */
  epoch?: number;
  /** With MOVED: the primary this replica knows at that epoch, or null if none. */
  primary?: string | null;
}

/** The answer to a `request`. */
export type DataResponseFrame =
  | { type: 'response'; rid: number; ok: true; epoch: number; lsn?: number; value?: Uint8Array | null }
  | { type: 'response'; rid: number; ok: false; error: DataPortError };

/**
 * One log record, primary → shadow. A `put` carries either the literal `value`, or a `delta`
 * against the key's value at `baseLsn` (whichever is smaller, DESIGN.md §2); a `del` carries
 * neither.
 */
export interface ReplicationFrame {
  type: 'frame';
  shard: number;
  epoch: number;
  lsn: number;
  /** The primary's clock when it wrote the record; the shadow applies it at ts + applyDelayMs. */
  ts: number;
  op: 'put' | 'del';
  key: Uint8Array;
  value?: Uint8Array;
  delta?: Uint8Array;
  baseLsn?: number;
}

/** Shadow → primary: every lsn up to `receivedLsn` is durable here (cumulative). */
export interface AckFrame {
  type: 'ack';
  shard: number;
  epoch: number;
  receivedLsn: number;
  appliedLsn: number;
}

/** Shadow → primary: send frames from `fromLsn` on (first connect, reconnect, or after a gap). */
export interface ResyncFrame {
  type: 'resync';
  shard: number;
  epoch: number;
  fromLsn: number;
  reason: 'connect' | 'reconnect' | 'gap' | 'epoch';
  /**
   * Shadow → primary: the epoch of the shadow's record at `fromLsn - 1` (absent when it has none).
   * A primary whose log ends that epoch earlier answers with a `resync` of its own, primary →
   * shadow, whose `fromLsn` is the first lsn the shadow must cut (the logs part there).
   */
  lastEpoch?: number;
}

/**
 * Primary → shadow, when its log no longer holds `fromLsn`: the shard's state as of `lsn`, in
 * chunks numbered from 0; after the chunk with `done: true`, frames continue from `lsn + 1`.
 */
export interface SnapshotFrame {
  type: 'snapshot';
  shard: number;
  epoch: number;
  lsn: number;
  seq: number;
  /** `lsn`: the put that wrote the value, so later deltas against it resolve (absent: the chunk's `lsn`). */
  entries: { key: Uint8Array; value: Uint8Array; lsn?: number }[];
  done: boolean;
}

/** A connection-level refusal (bad hello, bad frame); a close usually follows. */
export interface ErrorFrame extends DataPortError {
  type: 'error';
  shard?: number;
}

/** Every frame of the data port. */
export type DataFrame = HelloFrame | WelcomeFrame | DataRequestFrame | DataResponseFrame | ReplicationFrame | AckFrame | ResyncFrame | SnapshotFrame | ErrorFrame;

/** The largest data port frame for `limits`: a value and key plus overhead, or a snapshot chunk. */
export function maxDataFrameBytes(limits: ClientLimits = DEFAULT_CLIENT_LIMITS): number {
  return Math.max(limits.maxValueBytes + limits.maxKeyBytes + FRAME_OVERHEAD_BYTES, MAX_SNAPSHOT_CHUNK_BYTES);
}

const dataPortErrorShape = {
  code: oneOf(DATA_PORT_ERROR_CODES),
  message: string({ maxLength: MAX_ERROR_MESSAGE_LENGTH }),
  epoch: optional(epochSchema),
  primary: optional(nullable(idSchema)),
};

function replicationFrameSchema(limits: ClientLimits): Schema<ReplicationFrame> {
  return refine(
    object({
      type: literal('frame'),
      shard: shardIdSchema,
      epoch: epochSchema,
      lsn: lsnSchema,
      ts: timestampMsSchema,
      op: oneOf(['put', 'del'] as const),
      key: bytes(limits.maxKeyBytes),
      value: optional(bytes(limits.maxValueBytes)),
      // A delta is only sent when smaller than the value, so the value limit bounds it too.
      delta: optional(bytes(limits.maxValueBytes)),
      baseLsn: optional(lsnSchema),
    }),
    (frame) => {
      const carries = Number(frame.value !== undefined) + Number(frame.delta !== undefined);
      if (frame.op === 'del') return carries === 0 && frame.baseLsn === undefined ? undefined : 'a del carries no value, delta or baseLsn';
      if (carries !== 1) return 'a put carries exactly one of value and delta';
      if ((frame.delta !== undefined) !== (frame.baseLsn !== undefined)) return 'baseLsn comes with a delta, and only with one';
      if (frame.baseLsn !== undefined && frame.baseLsn >= frame.lsn) return 'baseLsn must be below lsn';
      return undefined;
    },
  );
}

function buildDataFrameSchema(limits: ClientLimits): Schema<DataFrame> {
  const key = bytes(limits.maxKeyBytes);
  const value = bytes(limits.maxValueBytes);
  const shardEpoch = { shard: shardIdSchema, epoch: epochSchema };
  const request = refine(
    object({ type: literal('request'), rid: uint(), op: oneOf(['get', 'put', 'del'] as const), ...shardEpoch, key, value: optional(value) }),
    (frame) => ((frame.op === 'put') === (frame.value !== undefined) ? undefined : 'a put carries a value, a get or del none'),
  );
  const response = variants('ok', {
    true: object({ type: literal('response'), rid: uint(), ok: literal(true), epoch: epochSchema, lsn: optional(lsnSchema), value: optional(nullable(value)) }),
    false: object({ type: literal('response'), rid: uint(), ok: literal(false), error: object(dataPortErrorShape) }),
  });
  return variants('type', {
    hello: object({ type: literal('hello'), version: uint(), role: oneOf(['gateway', 'shadow', 'cli'] as const), node: idSchema, token: optional(string({ maxLength: MAX_TOKEN_LENGTH })) }),
    welcome: object({ type: literal('welcome'), version: uint(), node: idSchema }),
    request,
    response,
    frame: replicationFrameSchema(limits),
    ack: object({ type: literal('ack'), ...shardEpoch, receivedLsn: lsnSchema, appliedLsn: lsnSchema }),
    resync: object({ type: literal('resync'), ...shardEpoch, fromLsn: lsnSchema, reason: oneOf(['connect', 'reconnect', 'gap', 'epoch'] as const), lastEpoch: optional(epochSchema) }),
    snapshot: object({
      type: literal('snapshot'),
      ...shardEpoch,
      lsn: lsnSchema,
      seq: uint(),
      entries: array(object({ key, value, lsn: optional(lsnSchema) }), MAX_SNAPSHOT_CHUNK_ENTRIES),
      done: boolean(),
    }),
    error: object({ type: literal('error'), ...dataPortErrorShape, shard: optional(shardIdSchema) }),
  }) as Schema<DataFrame>;
}

const dataFrameSchemas = new WeakMap<ClientLimits, Schema<DataFrame>>();

/** The data frame schema for `limits` (key and value sizes), built once per limits object. */
export function dataFrameSchema(limits: ClientLimits = DEFAULT_CLIENT_LIMITS): Schema<DataFrame> {
  let schema = dataFrameSchemas.get(limits);
  if (!schema) {
    schema = buildDataFrameSchema(limits);
    dataFrameSchemas.set(limits, schema);
  }
  return schema;
}

/** Validates and encodes a data port frame; throws a {@link ProtocolError} if it breaks the schema or the size limit. */
export function encodeDataFrame(frame: DataFrame, limits: ClientLimits = DEFAULT_CLIENT_LIMITS): Uint8Array {
  const bytes = encodeCbor(validate(dataFrameSchema(limits), frame, `data ${frame.type} frame`));
  const maxBytes = maxDataFrameBytes(limits);
  if (bytes.byteLength > maxBytes) throw new ProtocolError('PAYLOAD_TOO_LARGE', `data ${frame.type} frame of ${bytes.byteLength} bytes is over the limit of ${maxBytes}`);
  return bytes;
}

/** Size-checks, decodes and validates a data port frame; throws a {@link ProtocolError} on a bad one. */
export function decodeDataFrame(bytes: Uint8Array, limits: ClientLimits = DEFAULT_CLIENT_LIMITS): DataFrame {
  return validate(dataFrameSchema(limits), decodeCbor(bytes, maxDataFrameBytes(limits), 'data frame'), 'data frame');
}
