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
 */
import assert from 'node:assert/strict';
import type { Logger } from '../common/log.js';
import {
  COMMAND_ERROR_CODES,
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
  type DropHandler,
} from '../protocol/index.js';
import type { AgentShardHost } from './shard-host.js';

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
type Handler<T extends CommandType> = (host: AgentShardHost, command: CommandOf<T>) => Promise<CommandOutcome>;

/** One handler per command type; each is one call into the shard host. */
export const COMMAND_HANDLERS: { readonly [T in CommandType]: Handler<T> } = Object.freeze({
  fence: (host, c) => host.fence(c.shard, c.epoch),
  unfence: (host, c) => host.unfence(c.shard, c.epoch),
  promote: (host, c) => host.promote(c.shard, c.epoch, c.args),
  rollback: (host, c) => host.rollback(c.shard, c.epoch, c.args),
  demote: (host, c) => host.demote(c.shard, c.epoch, c.args),
  follow: (host, c) => host.follow(c.shard, c.epoch, c.args),
  'add-shadow': (host, c) => host.addShadow(c.shard, c.epoch, c.args),
  'remove-shadow': (host, c) => host.removeShadow(c.shard, c.epoch),
  chaos: async (_host, c) => {
    throw new CommandRefusal('UNSUPPORTED', `this agent cannot inject ${c.args.fault} faults`);
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
  /** Publishes an answer on `cmd-result`. */
  publishResult(result: CommandResult): void;
  readonly onDrop: DropHandler;
  readonly logger: Logger;
  readonly maxRefusalAnswersPerS: number;
  readonly clock?: () => number;
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

  constructor(private readonly parts: CommandDispatcherParts) {
    this.clock = parts.clock ?? Date.now;
    this.source = `foreshard/v1/${parts.cluster}/node/${parts.nodeId}/cmd`;
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
    try {
      const outcome = await handler(this.parts.host, command as CommandOf<CommandType>);
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
      this.parts.publishResult({ cmdId: command.cmdId, ok: false, ts, error });
      return;
    }
    this.count(typeLabel, 'ok');
    this.parts.publishResult({ cmdId: command.cmdId, ok: true, ts, result: outcome });
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
