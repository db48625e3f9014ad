/**
 * `src/protocol/`: every wire format of foreshard in one place (DESIGN.md §5). CBOR rules and
 * codec, typed schemas of every message, size limits, MQTT topics, command signing and bearer
 * tokens. See docs/wire-format.md for the formats themselves.
 *
 * @module
 */
export * from './errors.js';
export * from './limits.js';
export * from './schema.js';
export * from './cbor.js';
export * from './canonical.js';
export * from './common.js';
export * from './control.js';
export * from './commands.js';
export * from './messages.js';
export * from './drops.js';
export * from './client.js';
export * from './dataport.js';
export * from './topics.js';
export * from './signing.js';
export * from './operator.js';
export * from './tokens.js';
