// Proves the profile validator generated at build time (scripts/validators.mjs, ajv standalone mode)
// is the one ajv compiles from the schema now: the file in build/ matches what the generator
// produces from today's schema, and on valid and broken documents it returns the same verdict and
// the same error objects as `ajv.compile` with the same options. So the JSON Schema stays the
// source of truth, and a schema edited without a rebuild is caught here.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import validateProfile from '../../src/profiles/validate-profile.js';
import { PROFILE_DIRECTORY, profileSchema } from '../../src/profiles/schema.js';
import { listProfiles } from '../../src/profiles/load.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const require = createRequire(import.meta.url);

interface Generator {
  VALIDATORS: readonly { schema: string; output: string; draft: string; options: Record<string, unknown> }[];
  PROFILE_AJV_OPTIONS: Record<string, unknown>;
  validatorSource(validator: Generator['VALIDATORS'][number]): string;
}

const generator = (await import(new URL('scripts/validators.mjs', `file://${root}`).href)) as Generator;

type Validate = ((document: unknown) => boolean) & { errors?: unknown[] | null };

function compiledNow(): Validate {
  const { Ajv2020 } = require('ajv/dist/2020.js') as { Ajv2020: new (options: Record<string, unknown>) => { compile(schema: unknown): Validate } };
  return new Ajv2020({ ...generator.PROFILE_AJV_OPTIONS }).compile(profileSchema());
}

/** Documents that exercise every keyword of the schema, valid and not. */
async function documents(): Promise<unknown[]> {
  const shipped = await Promise.all((await listProfiles()).map(async (name) => JSON.parse(readFileSync(join(PROFILE_DIRECTORY, `${name}.json`), 'utf8')) as unknown));
  return [
    ...shipped,
    { name: 'minimal' },
    {},
    [],
    null,
    'generic',
    42,
    { name: 'Bad Name', extra: true },
    {
      $schema: './profile.schema.json',
      name: 'broken',
      sampling: { sampleIntervalMs: 5, collectors: ['proc', 'snmp', 'proc'] },
      prediction: { arimaGrid: { p: [0, 9], d: 'x' }, horizonS: -1, windowSamples: 1.5 },
      slo: { disk_latency: { max: 3 }, store_latency_ms_p99: { min: 50, max: 10 }, cpu_utilization: {} },
      kernels: { memoryCeilingMB: 16, memoryCeilingBytes: Number.MAX_VALUE },
      store: { fsync: { policy: 'batch' }, coldTierAgeS: '1' },
      replication: { applyDelayMs: 10_000, minShadowAcks: '1' },
    },
    { name: 'fsync', store: { fsync: { policy: 'always', batchMs: 5 } } },
    { name: 'fsync', store: { fsync: { policy: 'batch', batchMs: 0 } } },
    { name: 'types', sampling: [], prediction: null, slo: 'x', kernels: 1, store: true, replication: [] },
  ];
}

describe('the generated profile validator', () => {
  it('is what scripts/validators.mjs generates from the schema today', () => {
    for (const validator of generator.VALIDATORS) {
      const built = readFileSync(join(root, validator.output), 'utf8');
      assert.ok(built === generator.validatorSource(validator), `${validator.output} is stale: run node scripts/build.mjs`);
    }
  });

  it('gives the verdict and the errors that ajv.compile gives, document by document', async () => {
    const compiled = compiledNow();
    const all = await documents();
    let invalid = 0;
    for (const document of all) {
      const verdict = validateProfile(document);
      assert.equal(verdict, compiled(document), JSON.stringify(document));
      if (!verdict) invalid += 1;
      assert.deepEqual(validateProfile.errors ?? null, compiled.errors ?? null, JSON.stringify(document));
    }
    assert.ok(invalid >= 8, `only ${invalid} invalid documents`);
  });
});
