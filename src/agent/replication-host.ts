/**
 * Opens the shard host (src/replication/ `ShardHost`: this node's replicas and its data port) for
 * the agent, and adapts it to {@link AgentShardHost}: profile settings in, command outcomes and
 * figures out, and replication's errors turned into the command error codes of the wire format.
 */
import type { Logger } from '../common/log.js';
import type { Profile } from '../profiles/index.js';
import { commandErrorCode, ShardHost, type ShardHostOptions } from '../replication/index.js';
import type { ShardHostOpener } from './agent.js';
import { CommandRefusal } from './commands.js';
import { AgentError } from './errors.js';
import type { AgentShardHost, ReplicaFigures } from './shard-host.js';

/** Runs a ShardHost command; an error it throws becomes the refusal to answer, with the replica's epoch when it has one. */
async function command<T>(run: () => Promise<T> | T): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const code = commandErrorCode(error);
    if (code === 'FAILED') throw error; // toRefusal keeps the original code in the message
    const epoch = (error as { details?: { epoch?: unknown } }).details?.epoch;
    throw new CommandRefusal(code, (error as Error).message, typeof epoch === 'number' ? epoch : undefined);
  }
}

function storeLogger(logger: Logger): ShardHostOptions['logger'] {
  return (level, event, fields) => logger[level](event, fields);
}

/** The ShardHost settings a profile decides. */
function hostSettings(profile: Profile): Partial<ShardHostOptions> {
  const fsync = profile.store.fsync;
  return {
    fsyncPolicy: fsync.policy,
    ...(fsync.policy === 'batch' ? { batchMs: fsync.batchMs } : {}),
    applyDelayMs: profile.replication.applyDelayMs,
    minShadowAcks: profile.replication.minShadowAcks,
    replicationBytesPerSecond: profile.replication.bandwidthCapBytesPerS,
  };
}

/** Opens the shard host with the replicas already in the data directory. */
export const openReplicationHost: ShardHostOpener = async ({ options, profile, recorder, logger, chaos }) => {
  let host: ShardHost;
  try {
    host = await ShardHost.start({ dataDir: options.dataDir, node: options.nodeId, host: options.dataHost, port: options.dataPort, metrics: recorder, logger: storeLogger(logger), ...hostSettings(profile), ...(chaos ? { chaos } : {}) });
  } catch (error) {
    throw new AgentError('AGENT_SHARD_HOST', `the shard host cannot start: ${(error as Error).message}`);
  }
  const reopened = await host.openExisting();
  if (reopened.length > 0) logger.info('reopened replicas', { shards: reopened });
  // Nobody has told this new session what its replicas are: primaries wait, fenced, for the coordinator.
  const fenced = await host.recoverAfterRestart();
  if (fenced.length > 0) logger.info('primaries are recovering until the coordinator decides', { shards: fenced });
  return adapt(host, `${host.options.tls ? 'wss' : 'ws'}://${options.advertiseHost}:${host.port}`);
};

function adapt(host: ShardHost, dataUrl: string): AgentShardHost {
  return {
    dataUrl,
    fence: (shard, epoch) => command(() => host.fenceAt(shard, epoch)),
    promote: (shard, epoch, args, waitMs) => command(() => host.promoteAt(shard, epoch, args, waitMs)),
    follow: (shard, epoch, args) =>
      command(() => host.followAt(shard, epoch, { node: args.primary, dataUrl: args.dataUrl }, args.applyDelayMs)),
    drop: (shard, epoch) => command(() => host.drop(shard, epoch)),
    report: (shard) => {
      if (shard === undefined) return host.replicaStates();
      try {
        return [host.replicaState(shard)];
      } catch (error) {
        throw new CommandRefusal(commandErrorCode(error), (error as Error).message);
      }
    },
    replicas: () =>
      host.report().map(
        (report): ReplicaFigures => ({
          shard: report.shard,
          role: report.role,
          epoch: report.epoch,
          receivedLsn: report.receivedLsn,
          appliedLsn: report.appliedLsn,
          replicationLagMs: report.lagMs,
          figures: { lastLsn: report.lastLsn, rollbackWindowFrames: report.rollbackWindowFrames, rollbackWindowBytes: report.rollbackWindowBytes },
        }),
      ),
    figures: () => ({ ...host.stats() }),
    close: () => host.close(),
  };
}
