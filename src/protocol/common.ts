/**
 * Field schemas shared by several message kinds: ids, timestamps, lsns, epochs, urls.
 */
import { MAX_ID_LENGTH, MAX_SHARDS, MAX_TEXT_LENGTH, MAX_URL_LENGTH } from './limits.js';
import { string, uint, type Schema } from './schema.js';

/**
 * Cluster, node, incident and command ids: ASCII letters, digits, `.`, `_` and `-`, starting with a
 * letter or digit, at most {@link MAX_ID_LENGTH} characters. So an id never holds the MQTT topic
 * separator `/` or the wildcards `+` and `#` [MQTT-4.7.1-1], never starts with the reserved `$`
 * [MQTT-4.7.2-1], and is safe in file names and URLs.
 */
export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** True when `id` is a valid cluster, node, incident or command id. */
export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && id.length >= 1 && id.length <= MAX_ID_LENGTH && ID_PATTERN.test(id);
}

/** A cluster, node, incident or command id. */
export const idSchema: Schema<string> = string({ minLength: 1, maxLength: MAX_ID_LENGTH, pattern: ID_PATTERN, patternName: 'id' });

/** Milliseconds since the Unix epoch (a CBOR integer: RFC 8949 §3.1, 8-byte argument today). */
export const timestampMsSchema: Schema<number> = uint();
/** A log sequence number: monotonic per shard. */
export const lsnSchema: Schema<number> = uint();
/** A shard's epoch: incremented on each change of primary. */
export const epochSchema: Schema<number> = uint();
/** A shard id, 0..MAX_SHARDS-1. */
export const shardIdSchema: Schema<number> = uint(MAX_SHARDS - 1);
/** A WebSocket URL of a data port. */
export const dataUrlSchema: Schema<string> = string({ minLength: 6, maxLength: MAX_URL_LENGTH, pattern: /^wss?:\/\/\S+$/, patternName: 'ws:// or wss:// url' });
/** Free text: versions, profile names, summaries. */
export const textSchema: Schema<string> = string({ maxLength: MAX_TEXT_LENGTH });
/** A shard id written as a CBOR map key (map keys are strings): decimal, no leading zeros. */
export const shardKeySchema: Schema<string> = string({ minLength: 1, maxLength: 5, pattern: /^(0|[1-9][0-9]*)$/, patternName: 'decimal shard id' });
