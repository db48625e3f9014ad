// Proves firmware profiles do what an operator relies on: every shipped profile loads and carries
// the values its host class needs; a broken profile is refused with every problem listed at once,
// each with the JSON path of the setting; omitted settings come from the defaults (which match the
// schema's `default` annotations); settings that disagree are clamped with a note; the result is
// frozen. Broken profiles are written to a temporary folder and loaded by path, as a user would.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { SERIES_NAMES } from '../../src/metrics/series.js';
import { PROFILE_DEFAULTS } from '../../src/profiles/defaults.js';
import type { ProfileError } from '../../src/profiles/errors.js';
import { listProfiles, loadProfile, type LoadedProfile } from '../../src/profiles/load.js';
import { PROFILE_DIRECTORY, profileSchema, schemaProblems } from '../../src/profiles/schema.js';

const scratch = mkdtempSync(join(tmpdir(), 'foreshard-profiles-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function writeProfile(fileName: string, document: unknown): string {
  const path = join(scratch, fileName);
  writeFileSync(path, typeof document === 'string' ? document : JSON.stringify(document));
  return path;
}

async function refusal(nameOrPath: string, directory?: string): Promise<ProfileError> {
  try {
    await loadProfile(nameOrPath, directory);
  } catch (error) {
    return error as ProfileError;
  }
  assert.fail(`${nameOrPath} was accepted`);
}

describe('shipped profiles', () => {
  it('ships the four host classes, each valid against the schema with a $schema reference', async () => {
    const names = await listProfiles();
    for (const name of ['arm64-edge-gateway', 'generic-x86-server', 'hdd-archive-node', 'nvme-storage-node']) assert.ok(names.includes(name), name);
    for (const name of names) {
      const document = JSON.parse(readFileSync(join(PROFILE_DIRECTORY, `${name}.json`), 'utf8')) as { $schema: string; name: string };
      assert.deepEqual(schemaProblems(document), [], name);
      assert.equal(document.name, name);
      assert.ok(existsSync(join(PROFILE_DIRECTORY, document.$schema)), `${name}: $schema ${document.$schema} must exist`);
      const loaded = await loadProfile(name);
      assert.deepEqual(loaded.adjustments, [], `${name} needs no clamping`);
      assert.ok(Object.isFrozen(loaded.profile.slo) && Object.isFrozen(loaded.profile.prediction.arimaGrid.p));
    }
  });

  it('gives each host class the values its hardware needs', async () => {
    const profiles: Record<string, LoadedProfile['profile']> = {};
    for (const name of await listProfiles()) profiles[name] = (await loadProfile(name)).profile;
    const generic = profiles['generic-x86-server']!;
    const nvme = profiles['nvme-storage-node']!;
    const hdd = profiles['hdd-archive-node']!;
    const edge = profiles['arm64-edge-gateway']!;
    assert.equal(generic.slo.store_latency_ms_p99?.max, 50, 'the e2e scenario ramps disk latency against a 50 ms p99 SLO');
    assert.equal(generic.prediction.horizonS, 60);
    assert.equal(nvme.slo.disk_await_ms?.max, 5);
    assert.ok(nvme.slo.store_fsync_ms_p99!.max! <= 5);
    assert.equal(nvme.store.fsync.policy, 'always');
    assert.equal(hdd.slo.disk_await_ms?.max, 50);
    assert.ok(hdd.store.coldTierAgeS > generic.store.coldTierAgeS);
    assert.equal(edge.sampling.sampleIntervalMs, 5000);
    for (const other of [generic, nvme, hdd]) {
      assert.ok(edge.kernels.memoryCeilingBytes < other.kernels.memoryCeilingBytes);
      assert.ok(edge.store.shardMemoryLimitBytes < other.store.shardMemoryLimitBytes);
    }
    for (const profile of Object.values(profiles)) {
      assert.ok(profile.replication.applyDelayMs >= 50 && profile.replication.applyDelayMs <= 5000);
      assert.ok(profile.replication.minShadowAcks >= 1);
    }
    // hdd sets only some SLOs; the others come from the defaults.
    assert.deepEqual(hdd.slo.cpu_utilization, PROFILE_DEFAULTS.slo.cpu_utilization);
  });
});

describe('the schema and the defaults', () => {
  it('lists an SLO slot for every series, and no other', () => {
    const slo = (profileSchema().properties as Record<string, { properties: Record<string, unknown> }>).slo!;
    assert.deepEqual(Object.keys(slo.properties), [...SERIES_NAMES]);
  });

  it('repeats every default of src/profiles/defaults.ts, unchanged', () => {
    const checked: string[] = [];
    const walk = (schema: Record<string, unknown>, value: unknown, path: string): void => {
      if ('default' in schema) {
        assert.deepEqual(schema.default, value, `schema default at ${path}`);
        checked.push(path);
      }
      for (const [key, inner] of Object.entries((schema.properties ?? {}) as Record<string, Record<string, unknown>>)) {
        if (path === '' && (key === 'name' || key === '$schema')) continue;
        walk(inner, (value as Record<string, unknown> | undefined)?.[key], `${path}.${key}`);
      }
    };
    walk(profileSchema(), PROFILE_DEFAULTS, '');
    assert.ok(checked.length >= 15, `only ${checked.length} defaults checked`);
  });

  it('fills everything but the name from the defaults for a minimal profile', async () => {
    const { profile } = await loadProfile(writeProfile('minimal.json', { name: 'minimal' }));
    assert.deepEqual({ ...profile, name: undefined }, { ...structuredClone(PROFILE_DEFAULTS), name: undefined });
  });

  it('replaces an fsync policy and an SLO threshold whole, merging the rest', async () => {
    const { profile } = await loadProfile(
      writeProfile('partial.json', {
        name: 'partial',
        store: { fsync: { policy: 'always' } },
        slo: { store_throughput_ops_per_s: { min: 100 }, cpu_utilization: { min: 0.01 } },
        replication: { applyDelayMs: 50 },
      }),
    );
    assert.deepEqual(profile.store.fsync, { policy: 'always' });
    assert.equal(profile.store.coldTierAgeS, PROFILE_DEFAULTS.store.coldTierAgeS);
    assert.deepEqual(profile.slo.store_throughput_ops_per_s, { min: 100 });
    assert.deepEqual(profile.slo.cpu_utilization, { min: 0.01 }, 'the default max is not inherited');
    assert.deepEqual(profile.slo.disk_await_ms, PROFILE_DEFAULTS.slo.disk_await_ms);
    assert.equal(profile.replication.applyDelayMs, 50);
    assert.equal(profile.replication.minShadowAcks, 1);
  });

  it('clamps settings that disagree and says so', async () => {
    const loaded = await loadProfile(
      writeProfile('clamped.json', { name: 'clamped', sampling: { sampleIntervalMs: 5000 }, prediction: { horizonS: 2, windowSamples: 100, refitEvery: 500 } }),
    );
    assert.equal(loaded.profile.prediction.refitEvery, 100);
    assert.equal(loaded.profile.prediction.horizonS, 5);
    assert.equal(loaded.adjustments.length, 2);
    assert.match(loaded.adjustments.join('\n'), /refitEvery 500 lowered to windowSamples 100/);
    assert.match(loaded.adjustments.join('\n'), /horizonS 2 raised to 5/);
  });

  it('freezes the resolved profile', async () => {
    const { profile } = await loadProfile('generic-x86-server');
    assert.throws(() => {
      (profile.replication as { applyDelayMs: number }).applyDelayMs = 1;
    }, TypeError);
  });
});

describe('invalid profiles', () => {
  it('are refused with every problem listed at once, each with its JSON path', async () => {
    const path = writeProfile('broken.json', {
      $schema: './profile.schema.json',
      name: 'broken',
      sampling: { sampleIntervalMs: 5, collectors: ['proc', 'snmp'] },
      prediction: { arimaGrid: { p: [0, 9] } },
      slo: { disk_latency: { max: 3 }, store_latency_ms_p99: { min: 50, max: 10 }, cpu_utilization: {} },
      kernels: { memoryCeilingMB: 16 },
      store: { fsync: { policy: 'batch' } },
      replication: { applyDelayMs: 10_000, minShadowAcks: '1' },
    });
    const error = await refusal(path);
    assert.equal(error.code, 'PROFILE_INVALID');
    const problems = error.problems.map((p) => `${p.path}: ${p.message}`);
    const expected = [
      '$.sampling.sampleIntervalMs: must be >= 100, got 5',
      '$.sampling.collectors[1]: must be one of "proc", "node_exporter", "store", got "snmp"',
      '$.prediction.arimaGrid.p[1]: must be <= 5, got 9',
      '$.slo.disk_latency: is not a known setting',
      '$.slo.store_latency_ms_p99: min 50 must be below max 10',
      '$.kernels.memoryCeilingMB: is not a known setting',
      '$.store.fsync.batchMs: is required',
      '$.replication.applyDelayMs: must be <= 5000, got 10000',
      '$.replication.minShadowAcks: must be of type integer, got "1"',
    ];
    for (const line of expected) assert.ok(problems.includes(line), `missing "${line}" in:\n${problems.join('\n')}`);
    assert.ok(problems.some((p) => p.startsWith('$.slo.cpu_utilization: ')), 'an empty threshold is a problem');
    assert.equal(problems.length, expected.length + 1, problems.join('\n'));
    assert.match(error.message, /^profile .*broken\.json is invalid \(10 problems\):\n/);
    for (const line of expected) assert.ok(error.message.includes(`  ${line}`), `message lacks ${line}`);
  });

  it('refuse a batch size without batch fsync, a missing name and a wrong root type', async () => {
    const fsyncProblems = (await refusal(writeProfile('fsync.json', { name: 'fsync', store: { fsync: { policy: 'always', batchMs: 5 } } }))).problems;
    assert.deepEqual(fsyncProblems, [{ path: '$.store.fsync.batchMs', message: 'is not allowed with the other settings of this object' }]);
    assert.deepEqual((await refusal(writeProfile('nameless.json', { description: 'x' }))).problems, [{ path: '$.name', message: 'is required' }]);
    assert.deepEqual((await refusal(writeProfile('array.json', []))).problems, [{ path: '$', message: 'must be of type object, got []' }]);
  });

  it('loaded by name must carry that name', async () => {
    writeProfile('rack-a.json', { name: 'rack-b' });
    const error = await refusal('rack-a', scratch);
    assert.deepEqual(error.problems, [{ path: '$.name', message: 'must be "rack-a", the name the profile was loaded by, got "rack-b"' }]);
  });

  it('that are missing, not JSON or too large get their own codes', async () => {
    const missing = await refusal('no-such-profile');
    assert.equal(missing.code, 'PROFILE_NOT_FOUND');
    assert.match(missing.message, /known profiles: .*generic-x86-server/);
    const notJson = await refusal(writeProfile('trailing-comma.json', '{ "name": "x", }'));
    assert.equal(notJson.code, 'PROFILE_UNREADABLE');
    assert.match(notJson.message, /is not valid JSON/);
    const huge = await refusal(writeProfile('huge.json', JSON.stringify({ name: 'huge', description: 'x'.repeat(300 * 1024) })));
    assert.equal(huge.code, 'PROFILE_TOO_LARGE');
  });
});
