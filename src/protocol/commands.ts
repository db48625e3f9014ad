/**
 * Coordinator commands on `node/<node>/cmd` and their results on `node/<node>/cmd-result`
 * (DESIGN.md §3, §5.2). A command is `{cmdId, type, shard?, epoch?, args, ts, sig}`: `type` picks
 * the shape of `args`, and `sig` is the HMAC of `signing.ts`. Every shard command carries the shard
 * and an epoch, so a replica can refuse a command from an older epoch (fencing, §2), and every
 * command names the agent session it is meant for (`args.session`), so an agent that restarted
 * refuses the commands sent to its previous life.
 *
 * The command set is the one the coordinator's decision core (src/coordinator/) sends, and the
 * rules below are the ones its safety proofs (test/coordinator/sim/) assume of every agent.
 */
import { dataUrlSchema, epochSchema, idSchema, lsnSchema, shardIdSchema, timestampMsSchema } from './common.js';
import { MAX_ERROR_MESSAGE_LENGTH, MAX_REPLICAS_PER_REPORT } from './limits.js';
import { array, boolean, bytes, float, literal, object, oneOf, optional, refine, string, uint, variants, type Schema, type Shape } from './schema.js';

/** HMAC-SHA256 output length: the size of `sig`. */
export const SIGNATURE_BYTES = 32;

/** Faults `chaos` can inject into an agent, for demos and tests (DESIGN.md §8). */
export type ChaosFault = 'cpu' | 'memory' | 'disk-latency' | 'disk-errors' | 'network-latency' | 'network-loss' | 'store-latency' | 'crash';
/** Every {@link ChaosFault}. */
export const CHAOS_FAULTS = ['cpu', 'memory', 'disk-latency', 'disk-errors', 'network-latency', 'network-loss', 'store-latency', 'crash'] as const satisfies readonly ChaosFault[];

/** The agent session a command is meant for (the `session` of the node's birth). */
export interface SessionArgs {
  session: string;
}

/** `promote` arguments. */
export interface PromoteArgs extends SessionArgs {
  /** The replica must have received through this lsn (it waits up to the command's age limit). */
  throughLsn: number;
  /** The epoch of the entry at `throughLsn`: a replica holding another entry there refuses `DIVERGED`. */
  throughEpoch?: number;
  /** Create an empty replica when there is none (a new shard; `throughLsn` is then 0). */
  create?: boolean;
}

/** `follow` arguments: the primary to copy from. */
export interface FollowArgs extends SessionArgs {
  /** The primary's node id. */
  primary: string;
  /** The primary's data port (the coordinator fills it in from the primary's birth). */
  dataUrl: string;
  /** The shadow's apply delay; absent means the profile's. */
  applyDelayMs?: number;
}

/**
 * A logistic calibration, `p = σ(bias + Σ weight·feature)`, over a score's features (see
 * {@link ScoreFeatures} in control.ts); a weight that is absent counts as 0.
 */
export interface CalibrationParameters {
  bias: number;
  weights: { breach?: number; anomaly?: number; node?: number };
}

/** `calibrate` arguments: the calibrations fitted on the failure history, and how many pairs they saw. */
export interface CalibrateArgs extends SessionArgs {
  node: CalibrationParameters;
  shard: CalibrationParameters;
  /** Labelled incidents the fit used. */
  pairs: number;
}

/** The fields every command has, apart from `type`, `args` and the shard fields. */
interface CommandEnvelope {
  /** Unique per command; a repeated cmdId is answered from the agent's cache of results. */
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
 * Every command the coordinator sends, without its signature. What each asks of the node (every
 * command is refused `STALE_SESSION` for another session and `EXPIRED` once older than the agent's
 * command age limit):
 * - `fence`: raise the replica's epoch to max(own, `epoch`). A primary promoted below `epoch` stops
 *   taking writes and a shadow stops receiving; both become `recovering`. Answers a {@link ReplicaReport}.
 * - `promote`: refused `STALE_EPOCH` if `epoch` is below the replica's; idempotent if already primary
 *   at `epoch`; waits until received through `throughLsn` (else `NOT_CAUGHT_UP`); refused `DIVERGED`
 *   if its entry at `throughLsn` is not of `throughEpoch`; then applies the whole tail at once and
 *   takes writes at `epoch`. `create` makes an empty replica first.
 * - `follow`: refused if `epoch` is below the replica's; creates the replica if missing; copies from
 *   `primary`, cutting a divergent tail to a conflict file. It takes frames of epoch <= `epoch` only,
 *   and only from a source whose epoch is at least its own.
 * - `drop`: deletes the replica; refused `IS_PRIMARY` while it takes writes.
 * - `report`: the {@link ReplicaReport} of `shard`, or `{replicas}` for every local replica.
 * - `chaos`: inject a fault into this node for `durationMs` (not about a shard).
 * - `calibrate`: score with these calibrations from now on, in place of the built-in priors (the
 *   coordinator fits them on its failure history and sends them to every node that comes online).
 */
export type CommandBody =
  | ShardCommand<'fence', SessionArgs>
  | ShardCommand<'promote', PromoteArgs>
  | ShardCommand<'follow', FollowArgs>
  | ShardCommand<'drop', SessionArgs>
  | (CommandEnvelope & { type: 'report'; shard?: number; epoch?: number; args: SessionArgs })
  | (CommandEnvelope & { type: 'chaos'; args: SessionArgs & { fault: ChaosFault; durationMs: number; intensity?: number } })
  | (CommandEnvelope & { type: 'calibrate'; args: CalibrateArgs });

/** The `type` of every command. */
export type CommandType = CommandBody['type'];

/** A command as published: its body and the HMAC over the body's canonical form. */
export type Command = CommandBody & { sig: Uint8Array };

/** An agent session id, as births carry it. */
export const sessionIdSchema: Schema<string> = string({ minLength: 1, maxLength: 64, pattern: /^[A-Za-z0-9._-]+$/, patternName: 'session id' });

const sessionArgs = { session: sessionIdSchema };
const followArgs = { ...sessionArgs, primary: idSchema, dataUrl: dataUrlSchema, applyDelayMs: optional(uint(3_600_000)) };
/** Calibration parameters are bounded: a fit shrunk toward its prior never goes near these. */
const calibrationNumber = float({ min: -100, max: 100 });
const calibrationSchema: Schema<CalibrationParameters> = object({
  bias: calibrationNumber,
  weights: object({ breach: optional(calibrationNumber), anomaly: optional(calibrationNumber), node: optional(calibrationNumber) }),
});
const promoteArgs = { ...sessionArgs, throughLsn: lsnSchema, throughEpoch: optional(epochSchema), create: optional(boolean()) };

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
  fence: shardCommand('fence', sessionArgs),
  promote: shardCommand('promote', promoteArgs),
  follow: shardCommand('follow', followArgs),
  drop: shardCommand('drop', sessionArgs),
  report: object({
    cmdId: idSchema,
    type: literal('report'),
    shard: optional(shardIdSchema),
    epoch: optional(epochSchema),
    args: object(sessionArgs),
    ts: timestampMsSchema,
    sig: bytes(SIGNATURE_BYTES),
  }),
  chaos: object({
    cmdId: idSchema,
    type: literal('chaos'),
    args: object({ ...sessionArgs, fault: oneOf(CHAOS_FAULTS), durationMs: uint(3_600_000), intensity: optional(float({ min: 0, max: 1 })) }),
    ts: timestampMsSchema,
    sig: bytes(SIGNATURE_BYTES),
  }),
  calibrate: object({
    cmdId: idSchema,
    type: literal('calibrate'),
    args: object({ ...sessionArgs, node: calibrationSchema, shard: calibrationSchema, pairs: uint() }),
    ts: timestampMsSchema,
    sig: bytes(SIGNATURE_BYTES),
  }),
}) as Schema<Command>;

/** Why a node refused or failed a command. */
export type CommandErrorCode =
  | 'BAD_SIGNATURE'
  | 'STALE_COMMAND'
  | 'REPLAYED_COMMAND'
  | 'STALE_SESSION'
  | 'EXPIRED'
  | 'STALE_EPOCH'
  | 'NO_REPLICA'
  | 'NOT_CAUGHT_UP'
  | 'DIVERGED'
  | 'IS_PRIMARY'
  | 'BAD_REQUEST'
  | 'UNSUPPORTED'
  | 'FAILED';

/** Every {@link CommandErrorCode}. */
export const COMMAND_ERROR_CODES = [
  'BAD_SIGNATURE',
  'STALE_COMMAND',
  'REPLAYED_COMMAND',
  'STALE_SESSION',
  'EXPIRED',
  'STALE_EPOCH',
  'NO_REPLICA',
  'NOT_CAUGHT_UP',
  'DIVERGED',
  'IS_PRIMARY',
  'BAD_REQUEST',
  'UNSUPPORTED',
  'FAILED',
] as const satisfies readonly CommandErrorCode[];

/**
 * A replica's role as its agent sees it. `primary` takes writes at `epoch`; a fenced primary, a
 * fenced shadow, and every replica after an agent restart are `recovering` until told to promote
 * or follow.
 */
export type ReplicaRole = 'primary' | 'shadow' | 'recovering';

/** One replica's state: the answer to fence, promote and follow, and an entry of `report`. */
export interface ReplicaReport {
  shard: number;
  role: ReplicaRole;
  epoch: number;
  receivedLsn: number;
  appliedLsn: number;
  /** The epoch of the entry at `receivedLsn` (0 for an empty log): logs compare by (lastEpoch, receivedLsn). */
  lastEpoch: number;
  /** `follow`: the conflict file a cut tail was saved to. */
  savedTo?: string;
}

/**
 * What a command answers: a {@link ReplicaReport} (fence, promote, follow, report of one shard),
 * `{replicas}` (report of every shard), or nothing (drop). A refusal may carry the replica's report too.
 */
export type CommandOutcome = ReplicaReport | { replicas: ReplicaReport[] } | Record<string, never>;

/** The payload of `node/<node>/cmd-result`. */
export interface CommandResult {
  cmdId: string;
  ok: boolean;
  ts: number;
  result?: CommandOutcome;
  error?: { code: CommandErrorCode; message: string; epoch?: number };
}

/** Schema of {@link ReplicaReport}. */
export const replicaReportSchema: Schema<ReplicaReport> = object({
  shard: shardIdSchema,
  role: oneOf(['primary', 'shadow', 'recovering'] as const),
  epoch: epochSchema,
  receivedLsn: lsnSchema,
  appliedLsn: lsnSchema,
  lastEpoch: epochSchema,
  savedTo: optional(string({ maxLength: 4096 })),
});

/** A result is a report, a list of reports, or empty; one object schema with every field optional keeps the three apart by their fields. */
const outcomeSchema = refine(
  object({
    shard: optional(shardIdSchema),
    role: optional(oneOf(['primary', 'shadow', 'recovering'] as const)),
    epoch: optional(epochSchema),
    receivedLsn: optional(lsnSchema),
    appliedLsn: optional(lsnSchema),
    lastEpoch: optional(epochSchema),
    savedTo: optional(string({ maxLength: 4096 })),
    replicas: optional(array(replicaReportSchema, MAX_REPLICAS_PER_REPORT)),
  }),
  (value) => {
    const reportFields = ['shard', 'role', 'epoch', 'receivedLsn', 'appliedLsn', 'lastEpoch'].filter((key) => (value as Record<string, unknown>)[key] !== undefined);
    if (reportFields.length > 0 && reportFields.length < 6) return 'a replica report needs shard, role, epoch, receivedLsn, appliedLsn and lastEpoch';
    if (reportFields.length > 0 && value.replicas !== undefined) return 'a result is one report or a list of reports, not both';
    return undefined;
  },
) as unknown as Schema<CommandOutcome>;

/** Schema of {@link CommandResult}. `ok: false` needs an `error`. */
export const commandResultSchema: Schema<CommandResult> = refine(object({
  cmdId: idSchema,
  ok: boolean(),
  ts: timestampMsSchema,
  result: optional(outcomeSchema),
  error: optional(
    object({
      code: oneOf(COMMAND_ERROR_CODES),
      message: string({ maxLength: MAX_ERROR_MESSAGE_LENGTH }),
      epoch: optional(epochSchema),
    }),
  ),
}), (result) => (result.ok || result.error !== undefined ? undefined : 'a failed command result carries an error'));
