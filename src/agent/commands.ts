/**
 * Coordinator commands on `node/<node>/cmd` (DESIGN.md §3, §5.2): one small handler per command
 * type behind one dispatcher, as Aedes handles MQTT packets. The dispatcher decodes (size, CBOR,
 * schema), verifies the signature, then freshness and uniqueness (`createCommandVerifier`), runs
 * the handler and answers on `node/<node>/cmd-result`.
 *
 * What gets an answer: a command that decodes gets one, ok or not, so a coordinator with the wrong
 * key or a skewed clock learns why (`BAD_SIGNATURE`, `STALE_COMMAND`, `REPLAYED_COMMAND`). Answers
 * to refused commands are limited per second, so a flood of forgeries cannot make the agent flood
 * the broker; past the limit they are counted only. Garbage that does not decode has no `cmdId`
 * to answer: it is counted and logged by the drop counter and dropped.
 *
 * Commands about one shard run in arrival order for that shard (a `promote` after a `fence` sees
 * the fence done); different shards do not wait for each other.
 *
 * The rules the coordinator's safety proofs assume (src/protocol/commands.ts): a command for another
 * session is refused `STALE_SESSION`; one older than the command age limit when it would run is
 * refused `EXPIRED` (a restarted coordinator waits that long before it decides, so nothing its
 * previous life sent can still take effect); a repeated cmdId is answered from a cache of results,
 * never run twice.
 */
import assert from 'node:assert/strict';
import type { Logger } from '../common/log.js';
import {
  COMMAND_ERROR_CODES,
  DEFAULT_COMMAND_MAX_AGE_MS,
  MAX_CACHED_COMMAND_RESULTS,
  createCommandVerifier,
  decodeOrDrop,
  isProtocolError,
  MAX_ERROR_MESSAGE_LENGTH,
  type Command,
  type CommandErrorCode,
  type CommandOutcome,
  type CommandResult,
  type CommandType,
  type CommandVerifier,
  type CalibrationParameters,
  type DropHandler,
  verifyCommandSignature,
} from '../protocol/index.js';
import type { AgentShardHost } from './shard-host.js';
import { applyChaosCommand, isChaosError, type ChaosController } from '../chaos/index.js';

/** Commands accepted but not yet answered, over all shards; past it new ones are answered `FAILED` at once. */
export const MAX_PENDING_COMMANDS = 256;

/** A refusal a handler throws on purpose, with the wire code to answer. */
export class CommandRefusal extends Error {
  constructor(
    readonly code: CommandErrorCode,
    message: string,
    /** The replica's epoch, when the refusal is about one (`STALE_EPOCH`). */
    readonly epoch?: number,
  ) {
    super(message);
    this.name = 'CommandRefusal';
  }
}

type CommandOf<T extends CommandType> = Extract<Command, { type: T }>;
type Handler<T extends CommandType> = (host: AgentShardHost, command: CommandOf<T>, deadlineMs: number, nowMs: number, parts: CommandDispatcherParts) => Promise<CommandOutcome>;

/** One handler per command type; each is one call into the shard host. `deadlineMs` is when the command expires. */
export const COMMAND_HANDLERS: { readonly [T in CommandType]: Handler<T> } = Object.freeze({
  fence: (host, c) => host.fence(c.shard, c.epoch),
  promote: (host, c, deadlineMs, nowMs) => {
    const { throughLsn, throughEpoch, create } = c.args;
    return host.promote(c.shard, c.epoch, { throughLsn, ...(throughEpoch === undefined ? {} : { throughEpoch }), ...(create === undefined ? {} : { create }) }, deadlineMs - nowMs);
  },
  follow: (host, c) => {
    const { primary, dataUrl, applyDelayMs } = c.args;
    return host.follow(c.shard, c.epoch, { primary, dataUrl, ...(applyDelayMs === undefined ? {} : { applyDelayMs }) });
  },
  drop: async (host, c) => {
    await host.drop(c.shard, c.epoch);
    return {};
  },
  report: async (host, c) => {
    if (c.shard === undefined) return { replicas: host.report() };
    try {
      return host.report(c.shard)[0]!;
    } catch (error) {
      throw toRefusal(error);
    }
  },
  chaos: async (_host, c, _deadlineMs, _nowMs, parts) => {
    try {
      await applyChaosCommand(parts.chaos, c.args);
      return {};
    } catch (error) {
      if (!isChaosError(error)) throw error;
      // Without --allow-chaos the agent cannot do this at all; anything else is a bad fault request.
      throw new CommandRefusal(error.code === 'CHAOS_NOT_ALLOWED' ? 'UNSUPPORTED' : 'BAD_REQUEST', error.message);
    }
  },
  calibrate: async (_host, c, _deadlineMs, _nowMs, parts) => {
    if (parts.calibration === undefined) throw new CommandRefusal('UNSUPPORTED', 'this agent runs without prediction (--no-prediction)');
    parts.calibration.apply(c.args.node, c.args.shard, c.args.pairs);
    return {};
  },
});

/** Counters for `/metrics`: commands by type and outcome code (`ok` for success). */
export interface CommandCounters {
  /** `<type>/<code>` → count, e.g. `fence/ok`, `promote/NOT_CAUGHT_UP`, `(unverified)/BAD_SIGNATURE`. */
  outcomes: Record<string, number>;
  /** Refusals not answered because of the answer rate limit. */
  unansweredRefusals: number;
  pending: number;
}

/** What the dispatcher needs. */
export interface CommandDispatcherParts {
  readonly cluster: string;
  readonly nodeId: string;
  /** The cluster key; without it every command is refused `BAD_SIGNATURE`. */
  readonly clusterKey: Uint8Array | undefined;
  readonly host: AgentShardHost;
  /** This process's session (its birth's); commands for any other are refused `STALE_SESSION`. */
  readonly session?: string;
  /** Commands older than this are refused `EXPIRED`; default {@link DEFAULT_COMMAND_MAX_AGE_MS}. */
  readonly commandMaxAgeMs?: number;
  /** Publishes an answer on `cmd-result`. */
  publishResult(result: CommandResult): void;
  readonly onDrop: DropHandler;
  readonly logger: Logger;
  readonly maxRefusalAnswersPerS: number;
  readonly clock?: () => number;
  /** The fault injector of an agent started with `--allow-chaos`; without it `chaos` is refused `UNSUPPORTED`. */
  readonly chaos?: ChaosController;
  /** Where `calibrate` applies its calibrations (the scorer); without it `calibrate` is refused `UNSUPPORTED`. */
  readonly calibration?: { apply(node: CalibrationParameters, shard: CalibrationParameters, pairs: number): void };
}

/** Decodes, verifies, runs and answers commands; see the module comment. */
export class CommandDispatcher {
  private readonly verifier: CommandVerifier | undefined;
  private readonly clock: () => number;
  private readonly chains = new Map<string, Promise<void>>();
  private readonly outcomes = new Map<string, number>();
  private pending = 0;
  private unansweredRefusals = 0;
  private refusalWindowStartMs = 0;
  private refusalsInWindow = 0;
  private readonly source: string;
  /** Answers by cmdId, to answer a repeated command without running it again; null while it runs. */
  private readonly results = new Map<string, CommandResult | null>();
  private readonly commandMaxAgeMs: number;

  constructor(private readonly parts: CommandDispatcherParts) {
    this.clock = parts.clock ?? Date.now;
    this.source = `foreshard/v1/${parts.cluster}/node/${parts.nodeId}/cmd`;
    this.commandMaxAgeMs = parts.commandMaxAgeMs ?? DEFAULT_COMMAND_MAX_AGE_MS;
    assert.ok(this.commandMaxAgeMs > 0, 'commandMaxAgeMs must be positive');
    this.verifier = parts.clusterKey === undefined ? undefined : createCommandVerifier({ key: parts.clusterKey, cluster: parts.cluster, node: parts.nodeId });
  }

  /** Counters for `/metrics`. */
  counters(): CommandCounters {
    return { outcomes: Object.fromEntries(this.outcomes), unansweredRefusals: this.unansweredRefusals, pending: this.pending };
  }

  /** Handles one payload from the `cmd` topic; resolves when it is answered (or dropped). Never rejects on bad input. */
  async handle(payload: Uint8Array): Promise<void> {
    const command = decodeOrDrop('command', payload, this.source, this.parts.onDrop);
    if (command === undefined) return;
    if (this.results.has(command.cmdId) && this.verifySignature(command)) {
      // A repeat (the coordinator's QoS 1 retry, or a duplicate delivery): same answer, no second run.
      const cached = this.results.get(command.cmdId);
      if (cached) this.parts.publishResult(cached);
      this.count(command.type, 'repeat');
      return;
    }
    const refusal = this.verify(command);
    if (refusal !== undefined) return this.refuse(command, refusal);
    if (this.pending >= MAX_PENDING_COMMANDS) {
      return this.answer(command, new CommandRefusal('FAILED', `${MAX_PENDING_COMMANDS} commands are already pending on this node; try again`));
    }
    const chainKey = 'shard' in command ? `shard/${command.shard}` : command.type;
    this.pending += 1;
    const previous = this.chains.get(chainKey) ?? Promise.resolve();
    const run = previous.then(() => this.run(command)).finally(() => {
      this.pending -= 1;
      if (this.chains.get(chainKey) === run) this.chains.delete(chainKey);
    });
    this.chains.set(chainKey, run);
    return run;
  }

  /** Waits until every accepted command is answered (for a clean shutdown). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
  }

  private verifySignature(command: Command): boolean {
    if (this.verifier === undefined) return false;
    try {
      verifyCommandSignature(this.parts.clusterKey!, this.parts.cluster, this.parts.nodeId, command);
      return true;
    } catch {
      return false;
    }
  }

  /** Refusals that do not depend on the replica: another session, or too old to act on now. */
  private checkLive(command: Command, nowMs: number): CommandRefusal | undefined {
    const session = this.parts.session;
    if (session !== undefined && command.args.session !== session) {
      return new CommandRefusal('STALE_SESSION', `command for session ${command.args.session}; this agent runs session ${session}`);
    }
    if (nowMs - command.ts > this.commandMaxAgeMs) return new CommandRefusal('EXPIRED', `command is ${nowMs - command.ts} ms old (limit ${this.commandMaxAgeMs} ms)`);
    return undefined;
  }

  private verify(command: Command): CommandRefusal | undefined {
    if (this.verifier === undefined) return new CommandRefusal('BAD_SIGNATURE', 'this agent has no cluster key (--cluster-key-file), so it cannot verify any command');
    try {
      this.verifier.verify(command, this.clock());
      return undefined;
    } catch (error) {
      if (!isProtocolError(error)) throw error;
      // A full replay guard fails closed; the wire format has no code for it, so it is a plain failure.
      const code: CommandErrorCode = error.code === 'BAD_SIGNATURE' || error.code === 'STALE_COMMAND' || error.code === 'REPLAYED_COMMAND' ? error.code : 'FAILED';
      return new CommandRefusal(code, error.message);
    }
  }

  private async run(command: Command): Promise<void> {
    const handler = COMMAND_HANDLERS[command.type] as Handler<CommandType>;
    this.remember(command.cmdId, null);
    try {
      // Checked when it runs, not when it arrived: it may have waited behind a slow command of its shard.
      const nowMs = this.clock();
      const refusal = this.checkLive(command, nowMs);
      if (refusal) throw refusal;
      const outcome = await handler(this.parts.host, command as CommandOf<CommandType>, command.ts + this.commandMaxAgeMs, nowMs, this.parts);
      this.answer(command, outcome);
    } catch (error) {
      // Assertions are bugs and must crash (STYLE.md, "Two kinds of error"); everything else is answered.
      if (error instanceof assert.AssertionError) throw error;
      this.answer(command, toRefusal(error));
    }
  }

  private refuse(command: Command, refusal: CommandRefusal): void {
    const nowMs = this.clock();
    if (nowMs - this.refusalWindowStartMs >= 1000) {
      this.refusalWindowStartMs = nowMs;
      this.refusalsInWindow = 0;
    }
    this.refusalsInWindow += 1;
    this.parts.logger.warn('refused a command', { cmdId: command.cmdId, type: command.type, code: refusal.code, message: refusal.message });
    if (this.refusalsInWindow > this.parts.maxRefusalAnswersPerS) {
      this.count('(unverified)', refusal.code);
      this.unansweredRefusals += 1;
      return;
    }
    this.answer(command, refusal, '(unverified)');
  }

  private answer(command: Command, outcome: CommandOutcome | CommandRefusal, typeLabel: string = command.type): void {
    const ts = this.clock();
    if (outcome instanceof CommandRefusal) {
      this.count(typeLabel, outcome.code);
      const message = outcome.message.slice(0, MAX_ERROR_MESSAGE_LENGTH);
      const error = outcome.epoch === undefined ? { code: outcome.code, message } : { code: outcome.code, message, epoch: outcome.epoch };
      this.publish(command, { cmdId: command.cmdId, ok: false, ts, error }, typeLabel);
      return;
    }
    this.count(typeLabel, 'ok');
    this.publish(command, { cmdId: command.cmdId, ok: true, ts, result: outcome }, typeLabel);
  }

  private publish(command: Command, result: CommandResult, typeLabel: string): void {
    // Only answers of commands that ran are cached: an unverified one never takes room.
    if (typeLabel !== '(unverified)') this.remember(command.cmdId, result);
    this.parts.publishResult(result);
  }

  private remember(cmdId: string, result: CommandResult | null): void {
    this.results.delete(cmdId);
    this.results.set(cmdId, result);
    if (this.results.size > MAX_CACHED_COMMAND_RESULTS) this.results.delete(this.results.keys().next().value!);
  }

  private count(type: string, code: string): void {
    const key = `${type}/${code}`;
    this.outcomes.set(key, (this.outcomes.get(key) ?? 0) + 1);
  }
}

const errorCodes: ReadonlySet<string> = new Set(COMMAND_ERROR_CODES);

/** The wire answer for an error a handler threw: its own code when it is a command error code, else `FAILED`. */
export function toRefusal(error: unknown): CommandRefusal {
  if (error instanceof CommandRefusal) return error;
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && errorCodes.has(code)) return new CommandRefusal(code as CommandErrorCode, message);
  return new CommandRefusal('FAILED', typeof code === 'string' ? `${code}: ${message}` : message);
}
