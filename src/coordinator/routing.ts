/**
 * The routing table: which node is each shard's primary at which epoch, its shadows, and whether
 * writes are open. It is published retained on `routing` (DESIGN §5.2) and its version only goes up,
 * also across coordinator restarts, because a restarted coordinator continues from the retained
 * version. It also keeps the index of shards by node, so per-node decisions cost O(shards on node).
 *
 * @module
 */
import assert from 'node:assert/strict';
import type { RoutingMessage, RoutingShard } from './types.js';

/** The fields of a shard entry a decision may change. */
export type RoutingChange = Partial<Omit<RoutingShard, 'id'>>;

const noShards: ReadonlySet<number> = new Set();

/** The coordinator's routing table with its node index. */
export class RoutingTable {
  private readonly shards = new Map<number, RoutingShard>();
  /**
   * A frozen copy of each entry as it will be published. Only changed entries are copied again, so
   * publishing a 10,000-shard table after one change costs one copy, not 10,000.
   */
  private readonly frozen = new Map<number, Readonly<RoutingShard>>();
  private orderedIds: number[] | null = null;
  private readonly shardsByNode = new Map<string, Set<number>>();
  private readonly revisions = new Map<number, number>();
  private revisionCounter = 0;
  private versionNumber = 0;
  private dirty = false;

  /** A counter that goes up on every change, published or not: answers older than a change are stale. */
  get revision(): number {
    return this.revisionCounter;
  }

  /** The {@link revision} at which shard `id` last changed. */
  revisionOf(id: number): number {
    return this.revisions.get(id) ?? 0;
  }

  /** The version of the last published (or adopted) table. */
  get version(): number {
    return this.versionNumber;
  }

  /** Number of shards. */
  get size(): number {
    return this.shards.size;
  }

  /** Adopts a retained table: its entries, and its version as the floor for the next one. */
  adopt(message: RoutingMessage): void {
    this.shards.clear();
    this.frozen.clear();
    this.orderedIds = null;
    this.shardsByNode.clear();
    this.versionNumber = Math.max(this.versionNumber, message.version);
    for (const shard of message.shards) this.insert(copyShard(shard));
    this.dirty = false;
  }

  /**
   * Publishes the table again at the next version though no entry changed: a restarted coordinator
   * republishes what it recovered, for a broker that lost its retained copy.
   */
  touch(): void {
    this.dirty = true;
  }

  /** Adds a new shard entry; the table will be published. */
  create(shard: RoutingShard): void {
    assert.ok(!this.shards.has(shard.id), `shard ${shard.id} exists`);
    this.insert(copyShard(shard));
    this.dirty = true;
  }

  /** The entry of shard `id`, read-only; change it with {@link update}. */
  get(id: number): Readonly<RoutingShard> | undefined {
    return this.shards.get(id);
  }

  /** Every shard id, in ascending order (a shared array: do not change it). */
  ids(): readonly number[] {
    this.orderedIds ??= [...this.shards.keys()].sort((a, b) => a - b);
    return this.orderedIds;
  }

  /** The shards with a replica (primary or shadow) on `node`. */
  shardsOn(node: string): ReadonlySet<number> {
    return this.shardsByNode.get(node) ?? noShards;
  }

  /** Every node that holds a replica. */
  nodes(): IterableIterator<string> {
    return this.shardsByNode.keys();
  }

  /** Changes shard `id` and re-indexes its nodes; the table will be published. */
  update(id: number, change: RoutingChange): void {
    const shard = this.shards.get(id);
    assert.ok(shard, `unknown shard ${id}`);
    assert.ok(change.epoch === undefined || change.epoch >= shard.epoch, `shard ${id}: epoch must not go down`);
    this.unindex(shard);
    this.revisions.set(id, ++this.revisionCounter);
    Object.assign(shard, change);
    if (change.shadows) shard.shadows = [...change.shadows];
    if (change.extraShadows) shard.extraShadows = [...change.extraShadows];
    if (change.recovering) shard.recovering = [...change.recovering];
    if (change.dataUrls) shard.dataUrls = { ...change.dataUrls };
    // Writes that opened once may have been acknowledged: from then on no replica is created empty.
    if (shard.writes === 'open') delete shard.created;
    assert.ok(shard.primary === null || !shard.shadows.includes(shard.primary), `shard ${id}: primary listed as shadow`);
    this.index(shard);
    this.frozen.set(id, freezeShard(shard));
    this.dirty = true;
  }

  /** If anything changed since the last call, the next version of the table to publish. */
  takePublish(nowMs: number): RoutingMessage | null {
    if (!this.dirty) return null;
    this.dirty = false;
    this.versionNumber++;
    return this.snapshot(nowMs);
  }

  /** The table at the current version; its entries are frozen, so a reader can keep it. */
  snapshot(nowMs: number): RoutingMessage {
    const shards = this.ids().map((id) => this.frozen.get(id)!);
    return { version: this.versionNumber, ts: nowMs, shards };
  }

  private insert(shard: RoutingShard): void {
    this.shards.set(shard.id, shard);
    this.frozen.set(shard.id, freezeShard(shard));
    this.orderedIds = null;
    this.index(shard);
  }

  private index(shard: RoutingShard): void {
    for (const node of replicaNodes(shard)) {
      let set = this.shardsByNode.get(node);
      if (!set) this.shardsByNode.set(node, (set = new Set()));
      set.add(shard.id);
    }
  }

  private unindex(shard: RoutingShard): void {
    for (const node of replicaNodes(shard)) {
      const set = this.shardsByNode.get(node);
      set?.delete(shard.id);
      if (set && set.size === 0) this.shardsByNode.delete(node);
    }
  }
}

/** The nodes holding a replica of `shard`: the primary first, then the shadows. */
export function replicaNodes(shard: Readonly<RoutingShard>): string[] {
  return shard.primary === null ? [...shard.shadows] : [shard.primary, ...shard.shadows];
}

function freezeShard(shard: Readonly<RoutingShard>): Readonly<RoutingShard> {
  const copy = copyShard(shard);
  Object.freeze(copy.shadows);
  Object.freeze(copy.extraShadows);
  Object.freeze(copy.recovering);
  Object.freeze(copy.dataUrls);
  return Object.freeze(copy);
}

function copyShard(shard: Readonly<RoutingShard>): RoutingShard {
  return {
    id: shard.id,
    epoch: shard.epoch,
    primary: shard.primary,
    shadows: [...shard.shadows],
    writes: shard.writes,
    dataUrls: { ...shard.dataUrls },
    available: shard.available ?? true,
    extraShadows: [...(shard.extraShadows ?? [])],
    recovering: [...(shard.recovering ?? [])],
    ...(shard.created === false ? { created: false as const } : {}),
  };
}
