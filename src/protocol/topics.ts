/**
 * MQTT topics of DESIGN.md §5.2, all under `foreshard/v1/<cluster>/`: builders, subscription
 * filters, and a parser that maps a received topic back to its cluster, node and message kind.
 *
 * Cluster, node and incident ids follow `ID_PATTERN` (common.ts), so a built topic never holds
 * `+`, `#` [MQTT-4.7.1-1] [MQTT-4.7.1-2] or an extra `/` level, and never starts with `$`
 * [MQTT-4.7.2-1]. Every topic has at most {@link MAX_TOPIC_DEPTH} levels.
 */
import { ID_PATTERN, isValidId } from './common.js';
import { ProtocolError } from './errors.js';
import { MAX_ID_LENGTH, MAX_TOPIC_DEPTH } from './limits.js';
import type { MessageKind } from './messages.js';

/** The first two levels of every foreshard topic. */
export const TOPIC_ROOT = 'foreshard/v1';
/** The topics under `node/<node>/`. */
export const NODE_CHANNELS = ['state', 'metrics', 'score', 'cmd', 'cmd-result'] as const;
/** A topic under `node/<node>/`. */
export type NodeChannel = (typeof NODE_CHANNELS)[number];

const NODE_CHANNEL_KINDS: Record<NodeChannel, MessageKind> = {
  state: 'node-state',
  metrics: 'metrics',
  score: 'score',
  cmd: 'command',
  'cmd-result': 'command-result',
};

/** What a foreshard topic names. */
export type ParsedTopic =
  | { cluster: string; kind: 'node'; node: string; channel: NodeChannel; messageKind: MessageKind }
  | { cluster: string; kind: 'routing'; messageKind: 'routing' }
  | { cluster: string; kind: 'coordinator-state'; messageKind: 'coordinator-state' }
  | { cluster: string; kind: 'incident'; incidentId: string; messageKind: 'incident' };

/**
 * Checks a cluster, node or incident id; a bad one is a `BAD_TOPIC` ProtocolError (ids come from
 * flags, files and peers, so this is an operating error).
 */
export function checkId(what: string, id: string): string {
  if (!isValidId(id)) {
    throw new ProtocolError(
      'BAD_TOPIC',
      `${what} ${JSON.stringify(String(id).slice(0, 80))} is not valid: use 1..${MAX_ID_LENGTH} of A-Z a-z 0-9 . _ -, starting with a letter or digit (${ID_PATTERN})`,
    );
  }
  return id;
}

/** The topics of one cluster. */
export interface ClusterTopics {
  readonly cluster: string;
  /** `foreshard/v1/<cluster>/node/<node>/<channel>`. */
  node(node: string, channel: NodeChannel): string;
  /** `foreshard/v1/<cluster>/node/+/<channel>`: that channel of every node. */
  allNodes(channel: NodeChannel): string;
  /** `foreshard/v1/<cluster>/routing`. */
  readonly routing: string;
  /** `foreshard/v1/<cluster>/coordinator/state`. */
  readonly coordinatorState: string;
  /** `foreshard/v1/<cluster>/coordinator/cmd`: signed operator requests (switch, pause/resume automation). */
  readonly coordinatorCmd: string;
  /** `foreshard/v1/<cluster>/coordinator/cmd-result`: the coordinator's answers to them. */
  readonly coordinatorCmdResult: string;
  /** `foreshard/v1/<cluster>/incident/<id>`. */
  incident(id: string): string;
  /** `foreshard/v1/<cluster>/incident/+`. */
  readonly allIncidents: string;
  /** `foreshard/v1/<cluster>/#`: everything in the cluster. */
  readonly everything: string;
}

/** The topic builders of `cluster` (checked once here). */
export function clusterTopics(cluster: string): ClusterTopics {
  const base = `${TOPIC_ROOT}/${checkId('cluster id', cluster)}`;
  return Object.freeze({
    cluster,
    node: (node: string, channel: NodeChannel) => `${base}/node/${checkId('node id', node)}/${channel}`,
    allNodes: (channel: NodeChannel) => `${base}/node/+/${channel}`,
    routing: `${base}/routing`,
    coordinatorState: `${base}/coordinator/state`,
    coordinatorCmd: `${base}/coordinator/cmd`,
    coordinatorCmdResult: `${base}/coordinator/cmd-result`,
    incident: (id: string) => `${base}/incident/${checkId('incident id', id)}`,
    allIncidents: `${base}/incident/+`,
    everything: `${base}/#`,
  });
}

function badTopic(topic: string, why: string): ProtocolError {
  return new ProtocolError('BAD_TOPIC', `topic ${JSON.stringify(topic.slice(0, 200))} ${why}`);
}

/**
 * Parses a received topic; anything that is not a foreshard v1 topic is a `BAD_TOPIC` ProtocolError.
 * The operator channels `coordinator/cmd` and `coordinator/cmd-result` are read only by the
 * coordinator and the CLI, which match them by their exact topic (`ClusterTopics.coordinatorCmd`).
 */
export function parseTopic(topic: string): ParsedTopic {
  const levels = topic.split('/', MAX_TOPIC_DEPTH + 1);
  if (levels.length > MAX_TOPIC_DEPTH) throw badTopic(topic, `has more than ${MAX_TOPIC_DEPTH} levels`);
  if (levels[0] !== 'foreshard' || levels[1] !== 'v1') throw badTopic(topic, `is not under ${TOPIC_ROOT}/`);
  const [, , cluster, section, ...rest] = levels;
  if (!isValidId(cluster)) throw badTopic(topic, 'has no valid cluster id');
  if (section === 'routing' && rest.length === 0) return { cluster, kind: 'routing', messageKind: 'routing' };
  if (section === 'coordinator' && rest.length === 1 && rest[0] === 'state') {
    return { cluster, kind: 'coordinator-state', messageKind: 'coordinator-state' };
  }
  if (section === 'incident' && rest.length === 1) {
    if (!isValidId(rest[0])) throw badTopic(topic, 'has no valid incident id');
    return { cluster, kind: 'incident', incidentId: rest[0], messageKind: 'incident' };
  }
  if (section === 'node' && rest.length === 2) {
    const [node, channel] = rest as [string, string];
    if (!isValidId(node)) throw badTopic(topic, 'has no valid node id');
    if (!(NODE_CHANNELS as readonly string[]).includes(channel)) throw badTopic(topic, `has an unknown node channel ${JSON.stringify(channel)}`);
    const nodeChannel = channel as NodeChannel;
    return { cluster, kind: 'node', node, channel: nodeChannel, messageKind: NODE_CHANNEL_KINDS[nodeChannel] };
  }
  throw badTopic(topic, 'names no foreshard message');
}
