// Proves the dashboard's HTTP surface with a view on a real embedded broker: the page is one
// self-contained document (no external URL), /api/state returns the cluster as JSON, /healthz says
// whether the broker is connected, and /api/events sends a snapshot first and then pushes a new score
// and a switch as deltas within a second. It reads the endpoints as a browser or curl would, over HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { EmbeddedBroker } from '../../src/broker/embedded.js';
import { createLogger } from '../../src/common/log.js';
import { startClusterView, startDashboard, type ClusterView, type Dashboard, type DashboardDelta, type DashboardSnapshot } from '../../src/dashboard/index.js';
import { CLUSTER, NODES, Publisher, initialRouting, quietBroker, route, scoreFor } from './helpers.js';

const silent = createLogger('test', () => undefined);

/** Reads Server-Sent Events from a fetch body, one `{event, data}` at a time. */
async function* readEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
  const decoder = new TextDecoder();
  let buffered = '';
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffered += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
      const data = block.split('\n').filter((line) => line.startsWith('data: ')).map((line) => line.slice(6)).join('\n');
      if (data) yield { event, data };
    }
  }
}

describe('dashboard HTTP server', () => {
  let broker: EmbeddedBroker;
  let publisher: Publisher;
  let view: ClusterView;
  let dashboard: Dashboard;
  const t0 = Date.now();

  before(async () => {
    broker = await quietBroker();
    publisher = await Publisher.connect(broker.url);
    for (const node of NODES) await publisher.birth(node, t0);
    await publisher.routing(initialRouting(1, t0));
    view = startClusterView({ brokerUrl: broker.url, cluster: CLUSTER, logger: silent });
    await view.ready;
    dashboard = await startDashboard({ port: 0, view, logger: silent });
  });

  after(async () => {
    await dashboard?.close();
    await view?.close();
    await publisher?.close();
    await broker?.close();
  });

  it('serves one self-contained page', async () => {
    const response = await fetch(dashboard.url);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /text\/html/);
    const html = await response.text();
    assert.match(html, /<title>foreshard dashboard<\/title>/);
    assert.doesNotMatch(html, /(src|href)=["']?https?:/, 'no external scripts, styles or fonts');
  });

  it('returns the cluster as JSON on /api/state and health on /healthz', async () => {
    const deadline = Date.now() + 3000;
    let state: DashboardSnapshot;
    do state = (await (await fetch(new URL('/api/state', dashboard.url))).json()) as DashboardSnapshot;
    while (state.shards.length < 8 && Date.now() < deadline);
    assert.equal(state.cluster, CLUSTER);
    assert.deepEqual(state.nodes.map((n) => n.id), [...NODES]);
    assert.equal(state.shards.length, 8);
    const health = await fetch(new URL('/healthz', dashboard.url));
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { ok: true, brokerConnected: true, cluster: CLUSTER });
    assert.equal((await fetch(new URL('/nope', dashboard.url))).status, 404);
    assert.equal((await fetch(new URL('/api/state', dashboard.url), { method: 'POST' })).status, 405);
  });

  it('streams a snapshot, then a new score and a switch as deltas', async () => {
    const controller = new AbortController();
    const response = await fetch(new URL('/api/events', dashboard.url), { signal: controller.signal });
    assert.equal(response.headers.get('content-type'), 'text/event-stream');
    const events = readEvents(response.body!);
    const first = (await events.next()).value!;
    assert.equal(first.event, 'snapshot');
    assert.equal((JSON.parse(first.data) as DashboardSnapshot).nodes.length, 3);
    assert.equal(dashboard.clients(), 1);

    const sentAt = Date.now();
    await publisher.score('node-b', scoreFor('node-b', t0 + 1000, 0.42, 0.55, [1, 4], 0.5));
    const table = initialRouting(2, Date.now());
    table.shards[1] = route(1, 2, 'node-c', ['node-b']);
    await publisher.routing(table);
    let sawScore = false;
    let sawSwitch = false;
    for await (const { event, data } of events) {
      if (event !== 'delta') continue;
      const delta = JSON.parse(data) as DashboardDelta;
      if (delta.points.nodes['node-b']?.some((p) => p.p === 0.42)) sawScore = true;
      if (delta.timeline.some((e) => e.kind === 'switch' && e.shard === 1 && e.toNode === 'node-c')) sawSwitch = true;
      if (sawScore && sawSwitch) break;
    }
    assert.ok(Date.now() - sentAt < 1500, `pushed within 1.5 s (took ${Date.now() - sentAt} ms)`);
    controller.abort();
  });
});
