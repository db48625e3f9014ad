/**
 * Coordinator commands on `node/<node>/cmd` and their results on `node/<node>/cmd-result`
 * (DESIGN.md §3, §5.2). A command is `{cmdId, type, shard?, epoch?, args, ts, sig}`: `type` picks
 * the shape of `args`, and `sig` is the HMAC of `signing.ts`. Every shard command carries the shard
 * and an epoch, so a replica can refuse a command from an older epoch (fencing, §2).
 */
import { dataUrlSchema, epochSchema, idSchema, lsnSchema, shardIdSchema, textSchema, timestampMsSchema } from './common.js';
import { MAX_ERROR_MESSAGE_LENGTH } from './limits.js';
import { boolean, bytes, float, literal, nullable, object, oneOf, optional, refine, string, uint, variants, type Schema, type Shape } from './schema.js';

/** HMAC-SHA256 output length: the size of `sig`. */
export const SIGNATURE_BYTES = 32;

/** Faults `chaos` can inject into an agent, for demos and tests (DESIGN.md §8). */
export type ChaosFault = 'cpu' | 'memory' | 'disk-latency' | 'disk-errors' | 'network-latency' | 'network-loss' | 'store-latency' | 'crash';
/** Every {@link ChaosFault}. */
export const CHAOS_FAULTS = ['cpu', 'memory', 'disk-latency', 'disk-errors', 'network-latency', 'network-loss', 'store-latency', 'crash'] as const satisfies readonly ChaosFault[];

/** Where a replica streams from: the primary's node id and data port. */
export interface FollowArgs {
  primary: string;
  dataUrl: string;
  /** The shadow's apply delay; absent means the profile's. */
  applyDelayMs?: number;
}

/** The fields every command has, apart from `type`, `args` and the shard fields. */
interface CommandEnvelope {
  /** Unique per command; the replay guard remembers it for the skew window. */
  cmdId: string;
  /** The coordinator's clock when it signed, in ms since the Unix epoch. */
  ts: number;
}

/** A command about one shard, at an epoch. */
interface ShardCommand<T extends string, A> extends CommandEnvelope {
  type: T;
  shard: number;
  epoch: number;
  args: A;
}

/**
 * Every command the coordinator sends, without its signature. What each asks of the node:
 * - `fence`: stop taking writes for the shard at `epoch`, finish in-flight writes, report `lastLsn`.
 * - `unfence`: reopen writes at `epoch` (a switch was abandoned before the shadow promoted).
 * - `promote`: once received through `throughLsn`, apply the whole tail now and serve as primary
 *   at `epoch` (the new epoch).
 * - `rollback`: like promote, but discard the unapplied tail after `toTs` (saved to a file).
 * - `demote`: stop serving as primary; answer writes with MOVED carrying `epoch` and `primary`.
 * - `follow`: an existing replica follows `primary` as a shadow, cutting a conflicting tail.
 * - `add-shadow`: create a replica of the shard and follow `primary` (pre-replication, rebalance).
 * - `remove-shadow`: drop this node's replica of the shard.
 * - `chaos`: inject a fault into this node for `durationMs` (not about a shard).
 */
export type CommandBody =
  | ShardCommand<'fence', Record<string, never>>
  | ShardCommand<'unfence', Record<string, never>>
  | ShardCommand<'promote', { throughLsn: number }>
  | ShardCommand<'rollback', { toTs: number; throughLsn: number }>
  | ShardCommand<'demote', { primary: string | null }>
  | ShardCommand<'follow', FollowArgs>
  | ShardCommand<'add-shadow', FollowArgs>
  | ShardCommand<'remove-shadow', Record<string, never>>
  | (CommandEnvelope & { type: 'chaos'; args: { fault: ChaosFault; durationMs: number; intensity?: number } });

/** The `type` of every command. */
export type CommandType = CommandBody['type'];

/** A command as published: its body and the HMAC over the body's canonical form. */
export type Command = CommandBody & { sig: Uint8Array };

const followArgs = { primary: idSchema, dataUrl: dataUrlSchema, applyDelayMs: optional(uint(3_600_000)) };

function shardCommand<T extends string, S extends Shape>(type: T, args: S) {
  return object({
    cmdId: idSchema,
    type: literal(type),
    shard: shardIdSchema,
    epoch: epochSchema,
    args: object(args),
    ts: timestampMsSchema,
    sig: bytes(SIGNATURE_BYTES),
  });
}

/** Schema of {@link Command} (the signature is checked for shape here, for validity in `signing.ts`). */
export const commandSchema: Schema<Command> = variants('type', {
  fence: shardCommand('fence', {}),
  unfence: shardCommand('unfence', {}),
  promote: shardCommand('promote', { throughLsn: lsnSchema }),
  rollback: shardCommand('rollback', { toTs: timestampMsSchema, throughLsn: lsnSchema }),
  demote: shardCommand('demote', { primary: nullable(idSchema) }),
  follow: shardCommand('follow', followArgs),
  'add-shadow': shardCommand('add-shadow', followArgs),
  'remove-shadow': shardCommand('remove-shadow', {}),
  chaos: object({
    cmdId: idSchema,
    type: literal('chaos'),
    args: object({ fault: oneOf(CHAOS_FAULTS), durationMs: uint(3_600_000), intensity: optional(float({ min: 0, max: 1 })) }),
    ts: timestampMsSchema,
    sig: bytes(SIGNATURE_BYTES),
  }),
}) as Schema<Command>;

/** Why a node refused or failed a command. */
export type CommandErrorCode =
  | 'BAD_SIGNATURE'
  | 'STALE_COMMAND'
  | 'REPLAYED_COMMAND'
  | 'STALE_EPOCH'
  | 'UNKNOWN_SHARD'
  | 'NOT_CAUGHT_UP'
  | 'WRONG_ROLE'
  | 'UNSUPPORTED'
  | 'FAILED';

/** Every {@link CommandErrorCode}. */
export const COMMAND_ERROR_CODES = [
  'BAD_SIGNATURE',
  'STALE_COMMAND',
  'REPLAYED_COMMAND',
  'STALE_EPOCH',
  'UNKNOWN_SHARD',
  'NOT_CAUGHT_UP',
  'WRONG_ROLE',
  'UNSUPPORTED',
  'FAILED',
] as const satisfies readonly CommandErrorCode[];

/** What a command did, as far as the coordinator needs it. Every field is optional. */
export interface CommandOutcome {
  /** The shard's epoch after the command. */
  epoch?: number;
  /** `fence`: the last lsn the primary wrote. */
  lastLsn?: number;
  /** The replica's received and applied lsns after the command. */
  receivedLsn?: number;
  appliedLsn?: number;
  /** `rollback`, `follow`: the file the discarded or conflicting tail was saved to. */
  savedTo?: string;
}

/** The payload of `node/<node>/cmd-result`. */
export interface CommandResult {
  cmdId: string;
  ok: boolean;
  ts: number;
  result?: CommandOutcome;
  error?: { code: CommandErrorCode; message: string; epoch?: number };
}

/** Schema of {@link CommandResult}. `ok: false` needs an `error`. */
export const commandResultSchema: Schema<CommandResult> = refine(object({
  cmdId: idSchema,
  ok: boolean(),
  ts: timestampMsSchema,
  result: optional(
    object({
      epoch: optional(epochSchema),
      lastLsn: optional(lsnSchema),
      receivedLsn: optional(lsnSchema),
      appliedLsn: optional(lsnSchema),
      savedTo: optional(textSchema),
    }),
  ),
  error: optional(
    object({
      code: oneOf(COMMAND_ERROR_CODES),
      message: string({ maxLength: MAX_ERROR_MESSAGE_LENGTH }),
      epoch: optional(epochSchema),
    }),
  ),
}), (result) => (result.ok || result.error !== undefined ? undefined : 'a failed command result carries an error'));
