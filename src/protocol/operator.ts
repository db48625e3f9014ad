/**
 * Operator control of the coordinator over MQTT, an extension of DESIGN.md §5.2: `foreshard switch`,
 * `pause-automation` and `resume-automation` publish a signed request on `coordinator/cmd` (QoS 1),
 * and the active coordinator answers on `coordinator/cmd-result` (QoS 1) with the same `reqId`.
 *
 * Requests are signed like node commands (HMAC-SHA256 with the cluster key over deterministic CBOR,
 * RFC 8949 §4.2.1), over `["foreshard/v1/coordinator-cmd", <cluster id>, <request without sig>]`: the
 * distinct first element keeps a request from ever verifying as a node command and the other way
 * round. The coordinator refuses a request outside the clock-skew window or with a `reqId` it has
 * already seen, so a client that may publish cannot forge or replay a switch.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { encodeCanonicalCbor } from './canonical.js';
import { SIGNATURE_BYTES } from './commands.js';
import { idSchema, shardIdSchema, timestampMsSchema } from './common.js';
import { ProtocolError } from './errors.js';
import { MAX_ERROR_MESSAGE_LENGTH } from './limits.js';
import { boolean, bytes, literal, object, optional, string, validate, variants, type Schema } from './schema.js';
import { checkKey } from './signing.js';
import { checkId } from './topics.js';

/** The first element of every signed operator request: a domain separator. */
export const OPERATOR_SIGNING_CONTEXT = 'foreshard/v1/coordinator-cmd';

/** An operator request without its signature. */
export type OperatorRequestBody =
  | { reqId: string; type: 'switch'; shard: number; toNode?: string; ts: number }
  | { reqId: string; type: 'pause-automation'; ts: number }
  | { reqId: string; type: 'resume-automation'; ts: number };

/** An operator request as published on `coordinator/cmd`. */
export type OperatorRequest = OperatorRequestBody & { sig: Uint8Array };

/** The coordinator's answer on `coordinator/cmd-result`. */
export interface OperatorResult {
  reqId: string;
  ok: boolean;
  ts: number;
  /** One line for the operator: what happened or will happen. */
  message: string;
  /** On refusal: a stable code (`UNKNOWN_SHARD`, `SHARD_BUSY`, `NO_TARGET`, `NOT_READY`, `BAD_SIGNATURE`, `STALE_COMMAND`, …). */
  code?: string;
  /** `switch`: the incident that records it. */
  incidentId?: string;
  /** Whether automation is paused after the request. */
  automationPaused?: boolean;
}

const envelope = { reqId: idSchema, ts: timestampMsSchema, sig: bytes(SIGNATURE_BYTES) };

/** Schema of {@link OperatorRequest}. */
export const operatorRequestSchema: Schema<OperatorRequest> = variants('type', {
  switch: object({ ...envelope, type: literal('switch'), shard: shardIdSchema, toNode: optional(idSchema) }),
  'pause-automation': object({ ...envelope, type: literal('pause-automation') }),
  'resume-automation': object({ ...envelope, type: literal('resume-automation') }),
}) as Schema<OperatorRequest>;

const codeSchema = string({ minLength: 1, maxLength: 64, pattern: /^[A-Z][A-Z0-9_]*$/, patternName: 'error code' });

/** Schema of {@link OperatorResult}. */
export const operatorResultSchema: Schema<OperatorResult> = object({
  reqId: idSchema,
  ok: boolean(),
  ts: timestampMsSchema,
  message: string({ maxLength: MAX_ERROR_MESSAGE_LENGTH }),
  code: optional(codeSchema),
  incidentId: optional(idSchema),
  automationPaused: optional(boolean()),
});

function signingInput(cluster: string, request: OperatorRequestBody | OperatorRequest): Uint8Array {
  const body: Record<string, unknown> = { ...request };
  delete body.sig;
  return encodeCanonicalCbor([OPERATOR_SIGNING_CONTEXT, checkId('cluster id', cluster), body]);
}

function hmac(key: Uint8Array, input: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', checkKey(key, 'cluster key')).update(input).digest());
}

/** Signs an operator request for `cluster` (parsed by its schema first, so the signed map is what the coordinator parses). */
export function signOperatorRequest(key: Uint8Array, cluster: string, request: OperatorRequestBody): OperatorRequest {
  const parsed = validate(operatorRequestSchema, { ...request, sig: new Uint8Array(SIGNATURE_BYTES) }, 'operator-request');
  return { ...parsed, sig: hmac(key, signingInput(cluster, parsed)) };
}

/** Throws `BAD_SIGNATURE` unless `request.sig` is the HMAC of the request for `cluster`. Timing-safe. */
export function verifyOperatorRequest(key: Uint8Array, cluster: string, request: OperatorRequest): void {
  const expected = hmac(key, signingInput(cluster, request));
  const given = request.sig;
  if (!(given instanceof Uint8Array) || given.byteLength !== SIGNATURE_BYTES || !timingSafeEqual(given, expected)) {
    throw new ProtocolError('BAD_SIGNATURE', `operator request ${request.reqId} has a bad signature`);
  }
}
