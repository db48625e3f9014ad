/**
 * Command authentication (DESIGN.md §5.2): HMAC-SHA256 (RFC 2104) with the cluster key over a
 * canonical encoding of the command, and replay protection by timestamp and command id.
 *
 * The signed bytes are the deterministic CBOR encoding (RFC 8949 §4.2.1, see canonical.ts) of the
 * four-element array
 *
 *     ["foreshard/v1/cmd", <cluster id>, <target node id>, <command without sig>]
 *
 * The fixed first element separates command signatures from any other use of the key; the cluster
 * and node bind the command to the one node it was published for, so a command captured on one
 * node's topic is refused by every other node. The command map is the v1 command as parsed by its
 * schema (unknown fields are not signed and not kept).
 *
 * Replay protection: a receiver refuses a command whose `ts` differs from its clock by more than
 * the skew window, and remembers every accepted `cmdId` until its `ts` has left the window, in a
 * bounded set that fails closed when full.
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { encodeCanonicalCbor } from './canonical.js';
import { SIGNATURE_BYTES, commandSchema, type Command, type CommandBody } from './commands.js';
import { validate } from './schema.js';
import { ProtocolError } from './errors.js';
import { COMMAND_SKEW_MS, MAX_REMEMBERED_COMMAND_IDS, MIN_KEY_BYTES } from './limits.js';
import { checkId } from './topics.js';

/** The first element of every signed command array: a domain separator. */
export const COMMAND_SIGNING_CONTEXT = 'foreshard/v1/cmd';

/** Refuses a key shorter than {@link MIN_KEY_BYTES}: a `BAD_KEY` ProtocolError (keys come from files and flags). */
export function checkKey(key: Uint8Array, what = 'key'): Uint8Array {
  if (!(key instanceof Uint8Array) || key.byteLength < MIN_KEY_BYTES) {
    throw new ProtocolError('BAD_KEY', `${what} must be at least ${MIN_KEY_BYTES} bytes (got ${key instanceof Uint8Array ? key.byteLength : typeof key})`);
  }
  return key;
}

/** The command without its `sig`, as a plain map. */
function bodyOf(command: CommandBody | Command): Record<string, unknown> {
  const body: Record<string, unknown> = { ...command };
  delete body.sig;
  return body;
}

/** The exact bytes a command's HMAC is computed over (see the module comment). */
export function commandSigningInput(cluster: string, node: string, command: CommandBody | Command): Uint8Array {
  return encodeCanonicalCbor([COMMAND_SIGNING_CONTEXT, checkId('cluster id', cluster), checkId('node id', node), bodyOf(command)]);
}

function hmac(key: Uint8Array, input: Uint8Array): Uint8Array {
  return new Uint8Array(createHmac('sha256', key).update(input).digest());
}

/**
 * Signs `command` for `node` of `cluster` with the cluster key; returns the command with its `sig`.
 * The command is first parsed by its schema (an invalid one throws `SCHEMA`), so the signed map is
 * exactly what the receiver will parse and verify.
 */
export function signCommand(key: Uint8Array, cluster: string, node: string, command: CommandBody): Command {
  const parsed = validate(commandSchema, { ...command, sig: new Uint8Array(SIGNATURE_BYTES) }, 'command');
  const sig = hmac(checkKey(key, 'cluster key'), commandSigningInput(cluster, node, parsed));
  return { ...parsed, sig };
}

/** Throws `BAD_SIGNATURE` unless `command.sig` is the HMAC of the command for `node` of `cluster`. Timing-safe. */
export function verifyCommandSignature(key: Uint8Array, cluster: string, node: string, command: Command): void {
  const expected = hmac(checkKey(key, 'cluster key'), commandSigningInput(cluster, node, command));
  const given = command.sig;
  // timingSafeEqual needs equal lengths; the length of an HMAC is public, so checking it first leaks nothing.
  if (!(given instanceof Uint8Array) || given.byteLength !== SIGNATURE_BYTES || !timingSafeEqual(given, expected)) {
    throw new ProtocolError('BAD_SIGNATURE', `command ${command.cmdId} has a bad signature`);
  }
}

/** Options of {@link createReplayGuard}. */
export interface ReplayGuardOptions {
  /** Accepted |now - ts|, default {@link COMMAND_SKEW_MS}. */
  skewMs?: number;
  /** Most remembered command ids, default {@link MAX_REMEMBERED_COMMAND_IDS}. */
  maxRemembered?: number;
}

/** Refuses stale and replayed commands. */
export interface ReplayGuard {
  /** Throws `STALE_COMMAND`, `REPLAYED_COMMAND` or `REPLAY_GUARD_FULL`; otherwise remembers `cmdId`. */
  admit(cmdId: string, ts: number, nowMs: number): void;
  /** How many command ids are remembered now. */
  readonly size: number;
}

/** Creates a {@link ReplayGuard}. Check the signature first, so only signed ids take room. */
export function createReplayGuard(options: ReplayGuardOptions = {}): ReplayGuard {
  const skewMs = options.skewMs ?? COMMAND_SKEW_MS;
  const maxRemembered = options.maxRemembered ?? MAX_REMEMBERED_COMMAND_IDS;
  assert.ok(Number.isSafeInteger(skewMs) && skewMs > 0, 'skewMs must be a positive integer');
  assert.ok(Number.isSafeInteger(maxRemembered) && maxRemembered > 0, 'maxRemembered must be a positive integer');
  /** cmdId → ts, in arrival order, which is close to ts order. */
  const seen = new Map<string, number>();
  // An id can be replayed only while its ts is inside the window, so it may be forgotten after.
  const expired = (ts: number, nowMs: number) => ts + skewMs < nowMs;

  function forgetExpired(nowMs: number, sweepAll: boolean): void {
    for (const [cmdId, ts] of seen) {
      if (expired(ts, nowMs)) seen.delete(cmdId);
      else if (!sweepAll) break; // arrival order ≈ ts order: stop at the first live one
    }
  }

  return {
    admit(cmdId, ts, nowMs) {
      if (Math.abs(nowMs - ts) > skewMs) {
        throw new ProtocolError('STALE_COMMAND', `command ${cmdId} has ts ${ts}, ${nowMs - ts} ms from this clock (window ±${skewMs} ms)`);
      }
      forgetExpired(nowMs, false);
      if (seen.has(cmdId)) throw new ProtocolError('REPLAYED_COMMAND', `command ${cmdId} was already received`);
      if (seen.size >= maxRemembered) forgetExpired(nowMs, true);
      if (seen.size >= maxRemembered) {
        throw new ProtocolError('REPLAY_GUARD_FULL', `${maxRemembered} commands inside the ${skewMs} ms window; refusing more`);
      }
      seen.set(cmdId, ts);
    },
    get size() {
      return seen.size;
    },
  };
}

/** Options of {@link createCommandVerifier}. */
export interface CommandVerifierOptions extends ReplayGuardOptions {
  key: Uint8Array;
  cluster: string;
  /** The node receiving the commands (the one in the topic). */
  node: string;
}

/** Verifies signature, then freshness and uniqueness, of every command a node receives. */
export interface CommandVerifier {
  /** Throws `BAD_SIGNATURE`, `STALE_COMMAND`, `REPLAYED_COMMAND` or `REPLAY_GUARD_FULL`. */
  verify(command: Command, nowMs: number): void;
}

/** Creates the {@link CommandVerifier} an agent runs on its `cmd` topic. */
export function createCommandVerifier(options: CommandVerifierOptions): CommandVerifier {
  const key = checkKey(options.key, 'cluster key');
  const cluster = checkId('cluster id', options.cluster);
  const node = checkId('node id', options.node);
  const guard = createReplayGuard(options);
  return {
    verify(command, nowMs) {
      verifyCommandSignature(key, cluster, node, command);
      guard.admit(command.cmdId, command.ts, nowMs);
    },
  };
}
