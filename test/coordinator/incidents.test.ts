// Proves incidents are stored and listed as users expect: one JSON file per incident written
// atomically, rewritten when the outcome is labelled, listed oldest first, trimmed past the limit,
// and a corrupt file is skipped and counted rather than breaking the listing. The incidents come
// from a real simulated switch, so their content (timeline, drivers, outcome) is checked too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IncidentStore } from '../../src/coordinator/incidents/store.js';
import type { Incident } from '../../src/coordinator/incidents/incident.js';
import { SimWorld } from './sim/world.js';

function switchIncidents(): Incident[] {
  const world = new SimWorld({
    seed: 12, nodes: 3, shards: 3, shadowsPerShard: 1,
    scoreOf: (node, now) => (node === 'n0000' && now > 5_000 && now < 20_000 ? 0.9 : 0.05),
    coordinator: { rebalance: false, preReplicate: false, outcomeHorizonMs: 10_000 },
  });
  world.runUntil(40_000);
  return [...world.incidents.values()];
}

test('a switch incident carries its timeline, drivers and labelled outcome', () => {
  const incident = switchIncidents().find((i) => i.kind === 'planned-switch')!;
  assert.ok(incident.timeline.scores.length >= 3);
  assert.ok(incident.timeline.scores.every((s, i, all) => i === 0 || s.ts > all[i - 1]!.ts), 'score history in time order');
  assert.ok(incident.drivers.length > 0 && incident.drivers.every((d) => typeof d.forecast === 'number' && typeof d.threshold === 'number'));
  assert.equal(incident.outcome.result, 'switched');
  assert.equal(incident.outcome.nodeFailedWithinHorizon, false, 'the old primary did not go down within the horizon');
});

test('the store writes one file per incident, rewrites it, lists oldest first, trims, and skips corrupt files', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'foreshard-incidents-'));
  try {
    const incidents = switchIncidents();
    const store = new IncidentStore(dir, 3);
    for (const incident of incidents) await store.write(incident);
    await store.write(incidents[0]!); // a rewrite (outcome labelled later) keeps one file
    const listed = await store.list();
    assert.equal(listed.skipped, 0);
    assert.deepEqual(listed.incidents.map((i) => i.id), [...incidents].sort((a, b) => a.openedAtMs - b.openedAtMs || (a.id < b.id ? -1 : 1)).map((i) => i.id));
    assert.deepEqual(await store.read(incidents[0]!.id), incidents[0]);
    assert.ok((await readdir(dir)).every((name) => name.endsWith('.json')), 'no temporary file left behind');
    await writeFile(join(dir, 'broken.json'), '{ not json');
    assert.equal((await store.list()).skipped, 1);
    await assert.rejects(store.read('../etc/passwd'), { code: 'BAD_INCIDENT_FILE' });
    const many = new IncidentStore(join(dir, 'many'), 3);
    for (let i = 0; i < 10; i++) await many.write({ ...incidents[0]!, id: `inc-${i}`, openedAtMs: i });
    const kept = (await many.list()).incidents.map((i) => i.id);
    assert.ok(kept.length <= 4 && kept.includes('inc-9') && !kept.includes('inc-0'), `the oldest go first: ${kept}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
