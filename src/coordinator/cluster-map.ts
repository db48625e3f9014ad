/**
 * The cluster map: every node the coordinator has heard of, whether it is alive, and how risky it is.
 * Births and wills come from `node/<node>/state`; every score or metrics message counts as a
 * heartbeat. A will only counts when it names the node's current session, because a will from a
 * previous life can arrive after the birth of the next one.
 *
 * @module
 */
import { CoordinatorError } from './errors.js';
import type { NodeBirth, ScoreContribution } from './types.js';

/** `online`: heard from recently. `suspect`: heartbeats stopped. `offline`: its will arrived. */
export type NodeLiveness = 'online' | 'suspect' | 'offline';

/** What the coordinator knows about one node. */
export interface NodeInfo {
  readonly name: string;
  liveness: NodeLiveness;
  session: string;
  dataUrl: string;
  profile: string;
  /** When it was last heard from: a birth, a score or metrics. */
  lastHeartbeatMs: number;
  /**
   * When its last score or metrics came. Unlike a birth, which the broker also sends again from its
   * retained store to a subscriber that reconnects, these are published only by a running agent.
   */
  lastSampleMs: number;
  /** The sampling interval its metrics announce (`intervalMs`), 0 until they arrive. */
  intervalMs: number;
  /** The node failure probability of its last score, 0 until one arrives. */
  failureP: number;
  failureTop: ScoreContribution[];
  /** `ts` of the last score taken, so duplicated or reordered scores are ignored. */
  lastScoreTs: number;
  /** Since when the failure probability has stayed below the pre-replication threshold (null: it is not). */
  lowRiskSinceMs: number | null;
  /** When the will arrived or heartbeats stopped, for the outcome of incidents. */
  downSinceMs: number | null;
  /** `ts` of the birth of its current session (the agent's clock when it published it). */
  bornTs: number;
}

/** A node is suspected after this many of its sampling intervals without a heartbeat (when longer than the timeout). */
export const HEARTBEAT_MISSED_INTERVALS = 3;
/** Sampling intervals above this are taken as this, so a bad value cannot keep a dead node "online" for long. */
export const MAX_TRUSTED_INTERVAL_MS = 60_000;

/** How long `node` may stay silent before it is suspected. */
export function silenceLimitMs(node: NodeInfo, timeoutMs: number): number {
  return Math.max(timeoutMs, HEARTBEAT_MISSED_INTERVALS * node.intervalMs);
}

/** How a birth changed the map, so the parent can react. */
export type BirthChange = 'new' | 'restarted' | 'same' | 'stale';

/** The cluster map. */
export class ClusterMap {
  private readonly nodes = new Map<string, NodeInfo>();
  /** Silence counts from here at the earliest ({@link countSilenceFrom}); a node's last heartbeat stays what it was. */
  private silenceCountsFromMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly maxNodes: number) {}

  /** The node named `name`, if known. */
  get(name: string): NodeInfo | undefined {
    return this.nodes.get(name);
  }

  /** Every known node, in name order (deterministic iteration for decisions). */
  all(): NodeInfo[] {
    return [...this.nodes.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Takes a birth: a new node, a restarted one (new session), a duplicate, or a late one of a replaced session (stale). */
  birth(name: string, message: NodeBirth, nowMs: number): BirthChange {
    const known = this.nodes.get(name);
    if (!known) {
      if (this.nodes.size >= this.maxNodes) throw new CoordinatorError('TOO_MANY_NODES', `more than ${this.maxNodes} nodes`);
      this.nodes.set(name, {
        name,
        liveness: 'online',
        session: message.session,
        dataUrl: message.dataUrl,
        profile: message.profile,
        lastHeartbeatMs: nowMs,
        lastSampleMs: -Infinity,
        intervalMs: 0,
        failureP: 0,
        failureTop: [],
        lastScoreTs: -Infinity,
        lowRiskSinceMs: nowMs,
        downSinceMs: null,
        bornTs: message.ts,
      });
      return 'new';
    }
    const restarted = known.session !== message.session;
    // A birth of another session published before the birth of the one that is online now comes
    // late (delayed, or the broker delivered a dead process's last publish after the new process's
    // birth): taking it would address every command to a session that no longer runs, refused
    // STALE_SESSION for good. Both were stamped by the same host's clock. Once the current session
    // is no longer online (its will came, or it fell silent), any birth is taken, so a clock that
    // stepped back delays a restarted agent only until its predecessor's will or silence.
    if (restarted && known.liveness === 'online' && message.ts < known.bornTs) return 'stale';
    known.bornTs = message.ts;
    const wasDown = known.liveness !== 'online';
    known.session = message.session;
    known.dataUrl = message.dataUrl;
    known.profile = message.profile;
    known.liveness = 'online';
    known.lastHeartbeatMs = nowMs;
    known.downSinceMs = null;
    if (restarted) known.lastScoreTs = -Infinity;
    return restarted || wasDown ? 'restarted' : 'same';
  }

  /** Takes a will; true when it was for the current session and the node is now offline. */
  will(name: string, session: string, nowMs: number): boolean {
    const known = this.nodes.get(name);
    if (!known || known.session !== session || known.liveness === 'offline') return false;
    known.liveness = 'offline';
    known.downSinceMs ??= nowMs;
    return true;
  }

  /**
   * Counts a heartbeat; true when it brought a suspect or offline node back. A will does not prove
   * the process dead: a stopped one gets it too, and when it resumes, its will may reach the
   * coordinator after its new birth. Its heartbeats then say it lives.
   */
  heartbeat(name: string, nowMs: number, intervalMs?: number): boolean {
    const known = this.nodes.get(name);
    if (!known) return false;
    known.lastHeartbeatMs = nowMs;
    known.lastSampleMs = nowMs;
    if (intervalMs !== undefined) known.intervalMs = Math.min(intervalMs, MAX_TRUSTED_INTERVAL_MS);
    if (known.liveness === 'online') return false;
    known.liveness = 'online';
    known.downSinceMs = null;
    return true;
  }

  /**
   * Marks online nodes whose heartbeats stopped as suspect, and returns them. A node is silent too
   * long after `timeoutMs`, or after {@link HEARTBEAT_MISSED_INTERVALS} of its own sampling
   * intervals when that is longer: a node that samples every 5 s is not suspected between samples.
   */
  sweepHeartbeats(nowMs: number, timeoutMs: number): NodeInfo[] {
    const stopped: NodeInfo[] = [];
    for (const node of this.nodes.values()) {
      if (node.liveness === 'online' && this.silentTooLong(node, nowMs, timeoutMs)) {
        node.liveness = 'suspect';
        node.downSinceMs = nowMs;
        stopped.push(node);
      }
    }
    return stopped;
  }

  /**
   * Counts no node's silence before `fromMs`. Called when the coordinator's own broker connection
   * comes back: while it was down no node could be heard, so none is suspected until a whole timeout
   * after `fromMs` (a node that died meanwhile is suspected then).
   */
  countSilenceFrom(fromMs: number): void {
    this.silenceCountsFromMs = Math.max(this.silenceCountsFromMs, fromMs);
  }

  /** True when every online node has sent a score or metrics at or after `sinceMs` (a retained birth does not count). */
  allOnlineSampledSince(sinceMs: number): boolean {
    for (const node of this.nodes.values()) if (node.liveness === 'online' && node.lastSampleMs < sinceMs) return false;
    return true;
  }

  /** True when `name` is alive as far as the coordinator knows. */
  isOnline(name: string): boolean {
    return this.nodes.get(name)?.liveness === 'online';
  }

  /** True when `name`'s will arrived for its current session: it cannot accept writes any more. */
  isDead(name: string): boolean {
    return this.nodes.get(name)?.liveness === 'offline';
  }

  /**
   * True when `name` is dead and has also been silent past its heartbeat limit: gone for a failover's
   * purposes. A will alone does not prove a shadow stopped acknowledging writes. A stopped agent gets
   * one too, and when it resumes, its data port is still connected to its primary and acknowledges
   * again before its new birth or its next score reaches the coordinator (the will may even come
   * after the birth). Passed over then, it may hold an acknowledged write no other replica has.
   */
  isGone(name: string, nowMs: number, timeoutMs: number): boolean {
    const node = this.nodes.get(name);
    return node?.liveness === 'offline' && this.silentTooLong(node, nowMs, timeoutMs);
  }

  /** Silent past its limit, counting no silence before {@link countSilenceFrom} (the coordinator's own outage). */
  private silentTooLong(node: NodeInfo, nowMs: number, timeoutMs: number): boolean {
    return nowMs - Math.max(node.lastHeartbeatMs, this.silenceCountsFromMs) > silenceLimitMs(node, timeoutMs);
  }

  /** The node failure probability, 1 for unknown or dead nodes so they are never chosen. */
  risk(name: string): number {
    const node = this.nodes.get(name);
    return node && node.liveness === 'online' ? node.failureP : 1;
  }
}
