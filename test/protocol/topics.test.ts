// Proves the MQTT topics of DESIGN.md §5.2: builders give the documented names, the parser maps
// each back to its cluster, node and message kind, and ids with MQTT wildcards, separators, a
// leading `$`, or too many characters are refused, as are foreign and too-deep topics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_ID_LENGTH, ProtocolError, clusterTopics, parseTopic } from '../../src/protocol/index.js';

test('builders give the documented topics and the parser reads them back', () => {
  const topics = clusterTopics('prod-eu');
  assert.equal(topics.node('node-a', 'state'), 'foreshard/v1/prod-eu/node/node-a/state');
  assert.equal(topics.node('node-a', 'cmd-result'), 'foreshard/v1/prod-eu/node/node-a/cmd-result');
  assert.equal(topics.allNodes('score'), 'foreshard/v1/prod-eu/node/+/score');
  assert.equal(topics.routing, 'foreshard/v1/prod-eu/routing');
  assert.equal(topics.coordinatorState, 'foreshard/v1/prod-eu/coordinator/state');
  assert.equal(topics.incident('inc-1'), 'foreshard/v1/prod-eu/incident/inc-1');
  assert.equal(topics.allIncidents, 'foreshard/v1/prod-eu/incident/+');
  assert.equal(topics.everything, 'foreshard/v1/prod-eu/#');

  assert.deepEqual(parseTopic(topics.node('node-a', 'cmd')), { cluster: 'prod-eu', kind: 'node', node: 'node-a', channel: 'cmd', messageKind: 'command' });
  assert.deepEqual(parseTopic(topics.node('n.1', 'metrics')), { cluster: 'prod-eu', kind: 'node', node: 'n.1', channel: 'metrics', messageKind: 'metrics' });
  assert.deepEqual(parseTopic(topics.routing), { cluster: 'prod-eu', kind: 'routing', messageKind: 'routing' });
  assert.deepEqual(parseTopic(topics.coordinatorState), { cluster: 'prod-eu', kind: 'coordinator-state', messageKind: 'coordinator-state' });
  assert.deepEqual(parseTopic(topics.incident('inc-1')), { cluster: 'prod-eu', kind: 'incident', incidentId: 'inc-1', messageKind: 'incident' });
});

test('bad ids are refused by the builders with BAD_TOPIC', () => {
  const bad = ['', 'a/b', 'a+', '#', '$SYS', '-lead', 'has space', 'ü', 'x'.repeat(MAX_ID_LENGTH + 1)];
  for (const id of bad) {
    assert.throws(() => clusterTopics(id), (e: unknown) => e instanceof ProtocolError && e.code === 'BAD_TOPIC', JSON.stringify(id));
    assert.throws(() => clusterTopics('c').node(id, 'state'), (e: unknown) => e instanceof ProtocolError && e.code === 'BAD_TOPIC', JSON.stringify(id));
  }
  assert.equal(clusterTopics('x'.repeat(MAX_ID_LENGTH)).cluster.length, MAX_ID_LENGTH);
});

test('foreign, malformed and too-deep topics are refused by the parser with BAD_TOPIC', () => {
  const bad = [
    'foreshard/v2/c/routing',
    'other/v1/c/routing',
    'foreshard/v1/c',
    'foreshard/v1/c/routing/extra',
    'foreshard/v1/+/routing',
    'foreshard/v1/c/node/+/state',
    'foreshard/v1/c/node/a/reboot',
    'foreshard/v1/c/node/a/state/x/y',
    'foreshard/v1/c/incident/a#',
    'foreshard/v1/c/coordinator/status',
    '',
  ];
  for (const topic of bad) {
    assert.throws(() => parseTopic(topic), (e: unknown) => e instanceof ProtocolError && e.code === 'BAD_TOPIC', topic);
  }
});
