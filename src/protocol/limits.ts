/**
 * Every named limit of the wire formats. Each is enforced where data enters: payload sizes before
 * decoding, field sizes while validating. The README's limits table lists them.
 */
import { invariant } from './errors.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Longest client key, in bytes (UTF-8 bytes for a text key). §5.1. */
export const MAX_KEY_BYTES = 1 * KiB;
/** Largest client value, in bytes (UTF-8 bytes for a text value). §5.1. */
export const MAX_VALUE_BYTES = 1 * MiB;
/** Requests in flight per client connection. §5.1. */
export const MAX_IN_FLIGHT_PER_CONNECTION = 1024;
/** Room a frame needs beyond its key and value (field names, id, op, CBOR or JSON framing). */
export const FRAME_OVERHEAD_BYTES = 4 * KiB;
/**
 * JSON may spell one byte of a text value as up to six (`\u0000`), so a text frame may be this many
 * times larger than its decoded key and value.
 */
export const JSON_ESCAPE_FACTOR = 6;
/** Longest error message on the wire, in characters. Longer messages are cut, never refused. */
export const MAX_ERROR_MESSAGE_LENGTH = 1024;
/** Highest request id a client may use (the largest integer every JSON and CBOR peer reads exactly). */
export const MAX_REQUEST_ID = Number.MAX_SAFE_INTEGER;

/** Longest cluster, node, incident or command id, in characters. */
export const MAX_ID_LENGTH = 64;
/** Most levels a foreshard topic has (`foreshard/v1/<cluster>/node/<node>/cmd-result`). */
export const MAX_TOPIC_DEPTH = 6;
/** Most shards a cluster may have; shard ids are 0..MAX_SHARDS-1. */
export const MAX_SHARDS = 16_384;
/** Most shadows one shard may have. */
export const MAX_SHADOWS_PER_SHARD = 16;
/** Most series in one metrics payload. */
export const MAX_SERIES_PER_METRICS = 512;
/** Longest series name, in characters. */
export const MAX_SERIES_NAME_LENGTH = 128;
/** Most explanation entries (`top`) per score. */
export const MAX_EXPLANATION_ENTRIES = 16;
/** Most shards one node's score payload may cover. */
export const MAX_SHARDS_PER_SCORE = 4_096;
/** Longest URL (data port, in routing and births), in characters. */
export const MAX_URL_LENGTH = 512;
/** Longest free-text field (versions, profile names, summaries, details), in characters. */
export const MAX_TEXT_LENGTH = 4_096;
/** Most timeline events in one incident. */
export const MAX_INCIDENT_TIMELINE_EVENTS = 1_024;
/** Most score samples kept in one incident's history. */
export const MAX_INCIDENT_SCORE_SAMPLES = 4_096;
/** Most entries in one snapshot chunk on the data port. */
export const MAX_SNAPSHOT_CHUNK_ENTRIES = 4_096;

/** Accepted difference between a command's `ts` and the receiver's clock. */
export const COMMAND_SKEW_MS = 30_000;
/**
 * Agents refuse (`EXPIRED`) a command older than this, and a promote waits at most this long from
 * the command's `ts`. A restarted coordinator waits it out before it decides anything, so no command
 * of its previous life can still take effect: its `commandMaxAgeMs` must be at least this.
 */
export const DEFAULT_COMMAND_MAX_AGE_MS = 5_000;
/** Command results an agent keeps to answer a repeated cmdId (the oldest go first). */
export const MAX_CACHED_COMMAND_RESULTS = 4_096;
/** Most replica reports in one `report` answer. */
export const MAX_REPLICAS_PER_REPORT = 16_384;
/** Most command ids the replay guard remembers (it fails closed beyond this). */
export const MAX_REMEMBERED_COMMAND_IDS = 65_536;
/** Shortest accepted HMAC key, in bytes (RFC 2104 §3: at least the output length is recommended). */
export const MIN_KEY_BYTES = 32;
/** Longest bearer token, in characters. */
export const MAX_TOKEN_LENGTH = 1_024;
/** Longest token subject, in characters. */
export const MAX_TOKEN_SUBJECT_LENGTH = 128;

/**
 * The largest payload of each message kind, checked before decoding. A payload over its limit is
 * refused with `PAYLOAD_TOO_LARGE` and never reaches the decoder.
 */
export const MAX_PAYLOAD_BYTES = Object.freeze({
  'node-state': 4 * KiB,
  'coordinator-state': 4 * KiB,
  metrics: 64 * KiB,
  score: 1 * MiB,
  command: 16 * KiB,
  'command-result': 2 * MiB,
  routing: 8 * MiB,
  incident: 2 * MiB,
  'operator-request': 4 * KiB,
  'operator-result': 16 * KiB,
} as const);

/**
 * The largest data port snapshot chunk. The sender cuts chunks to stay under it; a data port frame
 * may be this large or one key and value plus overhead, whichever is larger.
 */
export const MAX_SNAPSHOT_CHUNK_BYTES = 4 * MiB;

/** The client limits of §5.1, configurable per gateway. */
export interface ClientLimits {
  /** Longest key in bytes. */
  readonly maxKeyBytes: number;
  /** Largest value in bytes. */
  readonly maxValueBytes: number;
  /** Requests in flight per connection. */
  readonly maxInFlight: number;
}

/** The §5.1 defaults: 1 KiB keys, 1 MiB values, 1024 in flight. */
export const DEFAULT_CLIENT_LIMITS: ClientLimits = Object.freeze({
  maxKeyBytes: MAX_KEY_BYTES,
  maxValueBytes: MAX_VALUE_BYTES,
  maxInFlight: MAX_IN_FLIGHT_PER_CONNECTION,
});

/** Highest value a caller may configure for a client limit (frames must stay addressable). */
const MAX_CONFIGURABLE_VALUE_BYTES = 64 * MiB;

/**
 * Merges caller overrides into {@link DEFAULT_CLIENT_LIMITS}, checks them, and freezes the result.
 * A non-positive or absurd limit is a configuration bug, so it fails an assertion at start-up.
 */
export function resolveClientLimits(overrides: Partial<ClientLimits> = {}): ClientLimits {
  const limits = { ...DEFAULT_CLIENT_LIMITS, ...overrides };
  invariant(Number.isSafeInteger(limits.maxKeyBytes) && limits.maxKeyBytes >= 1 && limits.maxKeyBytes <= 64 * KiB, `maxKeyBytes must be 1..65536, got ${limits.maxKeyBytes}`);
  invariant(
    Number.isSafeInteger(limits.maxValueBytes) && limits.maxValueBytes >= 0 && limits.maxValueBytes <= MAX_CONFIGURABLE_VALUE_BYTES,
    `maxValueBytes must be 0..${MAX_CONFIGURABLE_VALUE_BYTES}, got ${limits.maxValueBytes}`,
  );
  invariant(Number.isSafeInteger(limits.maxInFlight) && limits.maxInFlight >= 1, `maxInFlight must be a positive integer, got ${limits.maxInFlight}`);
  return Object.freeze(limits);
}

/**
 * The largest client frame the gateway should accept for `limits` (set it as the WebSocket
 * `maxPayloadLength` too). A text frame may be larger than a binary one because of JSON escapes.
 */
export function maxClientFrameBytes(limits: ClientLimits, binary: boolean): number {
  const content = limits.maxKeyBytes + limits.maxValueBytes;
  return (binary ? content : content * JSON_ESCAPE_FACTOR) + FRAME_OVERHEAD_BYTES;
}
