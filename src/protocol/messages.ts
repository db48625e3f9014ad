/**
 * The MQTT message kinds of DESIGN.md §5.2 in one registry: each kind's type, schema and size limit,
 * and the one encode and decode path they all go through. Decoding checks the size first, decodes
 * CBOR second and validates the shape last, so a bad payload costs at most its size limit.
 */
import { decodeCbor, encodeCbor } from './cbor.js';
import { commandResultSchema, commandSchema, type Command, type CommandResult } from './commands.js';
import {
  coordinatorStateSchema,
  incidentSchema,
  metricsSchema,
  nodeStateSchema,
  routingTableSchema,
  scoreSchema,
  type CoordinatorState,
  type Incident,
  type Metrics,
  type NodeState,
  type RoutingTable,
  type Score,
} from './control.js';
import { ProtocolError } from './errors.js';
import { operatorRequestSchema, operatorResultSchema, type OperatorRequest, type OperatorResult } from './operator.js';
import { MAX_PAYLOAD_BYTES } from './limits.js';
import { validate, type Schema } from './schema.js';

/** The payload type of each MQTT message kind. */
export interface MessageTypes {
  'node-state': NodeState;
  'coordinator-state': CoordinatorState;
  metrics: Metrics;
  score: Score;
  command: Command;
  'command-result': CommandResult;
  routing: RoutingTable;
  incident: Incident;
  'operator-request': OperatorRequest;
  'operator-result': OperatorResult;
}

/** An MQTT message kind. */
export type MessageKind = keyof MessageTypes;

/** The schema of each message kind. */
export const MESSAGE_SCHEMAS: { readonly [K in MessageKind]: Schema<MessageTypes[K]> } = Object.freeze({
  'node-state': nodeStateSchema,
  'coordinator-state': coordinatorStateSchema,
  metrics: metricsSchema,
  score: scoreSchema,
  command: commandSchema,
  'command-result': commandResultSchema,
  routing: routingTableSchema,
  incident: incidentSchema,
  'operator-request': operatorRequestSchema,
  'operator-result': operatorResultSchema,
});

/** Every message kind. */
export const MESSAGE_KINDS = Object.freeze(Object.keys(MESSAGE_SCHEMAS) as MessageKind[]);

/**
 * Validates and encodes a message. An invalid or oversize message throws a {@link ProtocolError}
 * (`SCHEMA`, `FIELD_TOO_LARGE` or `PAYLOAD_TOO_LARGE`), so nothing off-contract is ever published.
 */
export function encodeMessage<K extends MessageKind>(kind: K, message: MessageTypes[K]): Uint8Array {
  const bytes = encodeCbor(validate(MESSAGE_SCHEMAS[kind] as Schema<MessageTypes[K]>, message, kind));
  const maxBytes = MAX_PAYLOAD_BYTES[kind];
  if (bytes.byteLength > maxBytes) throw new ProtocolError('PAYLOAD_TOO_LARGE', `${kind} of ${bytes.byteLength} bytes is over the limit of ${maxBytes}`);
  return bytes;
}

/**
 * Size-checks, decodes and validates a payload of `kind`. Throws a {@link ProtocolError}:
 * `PAYLOAD_TOO_LARGE` before decoding, `MALFORMED` for bad CBOR, `SCHEMA` or `FIELD_TOO_LARGE` for a
 * bad shape.
 */
export function decodeMessage<K extends MessageKind>(kind: K, bytes: Uint8Array, maxBytes: number = MAX_PAYLOAD_BYTES[kind]): MessageTypes[K] {
  return validate(MESSAGE_SCHEMAS[kind] as Schema<MessageTypes[K]>, decodeCbor(bytes, maxBytes, kind), kind);
}
