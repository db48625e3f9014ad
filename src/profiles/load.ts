/**
 * Loads a firmware profile by name (from firmware-profiles/) or by path, and resolves it once at
 * start-up: validated against the JSON Schema with every problem listed, merged over the defaults,
 * clamped where two settings disagree, and frozen (STYLE.md, "Configuration").
 */
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isSeriesName } from '../metrics/series.js';
import { PROFILE_DEFAULTS } from './defaults.js';
import { ProfileError, type ProfileProblem } from './errors.js';
import { PROFILE_DIRECTORY, PROFILE_SCHEMA_FILE, jsonPath, schemaProblems } from './schema.js';
import type { Profile } from './types.js';

/** Largest profile file read; real ones are about 2 KiB. */
export const PROFILE_BYTES_MAX = 256 * 1024;
const profileNamePattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** A resolved profile, where it came from, and what was clamped on the way (to log at start-up). */
export interface LoadedProfile {
  readonly profile: Profile;
  readonly source: string;
  readonly adjustments: readonly string[];
}

/** Names of the profiles in `directory` (the shipped ones by default), sorted. */
export async function listProfiles(directory: string = PROFILE_DIRECTORY): Promise<string[]> {
  const entries = await readdir(directory);
  return entries
    .filter((entry) => entry.endsWith('.json') && entry !== PROFILE_SCHEMA_FILE)
    .map((entry) => entry.slice(0, -'.json'.length))
    .sort();
}

/**
 * Loads `nameOrPath`: a bare name such as `nvme-storage-node` is looked up in `directory`, anything
 * else is read as a path. Throws a {@link ProfileError} when the file is missing, unreadable or invalid.
 */
export async function loadProfile(nameOrPath: string, directory: string = PROFILE_DIRECTORY): Promise<LoadedProfile> {
  const byName = profileNamePattern.test(nameOrPath);
  const source = byName ? join(directory, `${nameOrPath}.json`) : resolve(nameOrPath);
  const text = await readProfileText(source, byName ? directory : undefined);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new ProfileError('PROFILE_UNREADABLE', `profile ${source} is not valid JSON: ${(error as Error).message}`);
  }
  return resolveProfile(document, source, byName ? nameOrPath : undefined);
}

async function readProfileText(source: string, directory: string | undefined): Promise<string> {
  try {
    const info = await stat(source);
    if (info.size > PROFILE_BYTES_MAX) {
      throw new ProfileError('PROFILE_TOO_LARGE', `profile ${source} is larger than ${PROFILE_BYTES_MAX} bytes`);
    }
    return await readFile(source, 'utf8');
  } catch (error) {
    if (error instanceof ProfileError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      const known = directory === undefined ? '' : `; known profiles: ${(await listProfiles(directory).catch(() => [])).join(', ')}`;
      throw new ProfileError('PROFILE_NOT_FOUND', `profile ${source} does not exist${known}`);
    }
    throw new ProfileError('PROFILE_UNREADABLE', `profile ${source} cannot be read: ${code ?? (error as Error).message}`);
  }
}

/**
 * Validates a parsed profile document and resolves it. `expectedName` is the name it was loaded
 * by, which its `name` must match. Throws `PROFILE_INVALID` listing every problem at once.
 */
export function resolveProfile(document: unknown, source: string, expectedName?: string): LoadedProfile {
  const problems = [...schemaProblems(document), ...crossFieldProblems(document, expectedName)];
  if (problems.length > 0) {
    const noun = problems.length === 1 ? 'problem' : 'problems';
    throw new ProfileError('PROFILE_INVALID', `profile ${source} is invalid (${problems.length} ${noun}):`, problems);
  }
  const { $schema: _schemaReference, ...settings } = document as Record<string, unknown>;
  const merged = merge(PROFILE_DEFAULTS, settings, '') as Profile;
  const adjustments = clamp(merged as Mutable<Profile>);
  checkDerivedInvariants(merged);
  return { profile: deepFreeze(merged), source, adjustments: Object.freeze(adjustments) };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Problems JSON Schema cannot say well. Each check guards its own shape, since the schema may have failed too.
function crossFieldProblems(document: unknown, expectedName: string | undefined): ProfileProblem[] {
  if (!isObject(document)) return [];
  const problems: ProfileProblem[] = [];
  if (expectedName !== undefined && typeof document.name === 'string' && document.name !== expectedName) {
    const message = `must be ${JSON.stringify(expectedName)}, the name the profile was loaded by, got ${JSON.stringify(document.name)}`;
    problems.push({ path: '$.name', message });
  }
  const slo = document.slo;
  if (isObject(slo)) {
    for (const [series, threshold] of Object.entries(slo)) {
      if (!isSeriesName(series) || !isObject(threshold)) continue;
      const { min, max } = threshold;
      if (typeof min === 'number' && typeof max === 'number' && min >= max) {
        problems.push({ path: jsonPath(`/slo/${series}`), message: `min ${min} must be below max ${max}` });
      }
    }
  }
  return problems;
}

// Objects at these paths replace the default whole: an fsync policy of "always" must not inherit the
// default's batchMs, and an SLO with only `min` must not inherit the default's `max`.
const replacedWhole = (path: string): boolean => path === '.store.fsync' || path.startsWith('.slo.');

function merge(base: unknown, override: unknown, path: string): unknown {
  if (override === undefined) return structuredClone(base);
  if (!isObject(base) || !isObject(override) || replacedWhole(path)) return structuredClone(override);
  const result: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(base), ...Object.keys(override)])) {
    result[key] = merge(base[key], override[key], `${path}.${key}`);
  }
  return result;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends object ? Mutable<T[K]> : T[K] };

/** Clamps settings that are each valid but disagree with each other; returns one sentence per change. */
function clamp(profile: Mutable<Profile>): string[] {
  const adjustments: string[] = [];
  const prediction = profile.prediction;
  if (prediction.refitEvery > prediction.windowSamples) {
    adjustments.push(
      `prediction.refitEvery ${prediction.refitEvery} lowered to windowSamples ${prediction.windowSamples}, so every sample is in at least one fit`,
    );
    prediction.refitEvery = prediction.windowSamples;
  }
  const horizonMinS = Math.ceil(profile.sampling.sampleIntervalMs / 1000);
  if (prediction.horizonS < horizonMinS) {
    adjustments.push(
      `prediction.horizonS ${prediction.horizonS} raised to ${horizonMinS}, one sample interval, the shortest horizon a forecast can have`,
    );
    prediction.horizonS = horizonMinS;
  }
  return adjustments;
}

function checkDerivedInvariants(profile: Profile): void {
  assert.ok(profile.prediction.refitEvery <= profile.prediction.windowSamples, 'refitEvery exceeds windowSamples after clamping');
  assert.ok(profile.prediction.horizonS * 1000 >= profile.sampling.sampleIntervalMs, 'horizon shorter than one sample after clamping');
  assert.ok(profile.store.fsync.policy !== 'batch' || profile.store.fsync.batchMs > 0, 'batch fsync without batchMs after merging');
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
