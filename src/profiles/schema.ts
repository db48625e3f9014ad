/**
 * The profile JSON Schema (firmware-profiles/profile.schema.json, draft 2020-12), checked by the
 * validator that scripts/validators.mjs generates from it at build time with ajv's standalone mode,
 * and ajv's errors turned into problems an operator can act on: a JSON path to the setting and a
 * sentence about it. ajv runs with `allErrors` so one pass lists every problem. Generating the
 * validator keeps ajv and its schema compiler out of every process that loads a profile
 * (docs/agent-memory.md).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ErrorObject } from 'ajv/dist/2020.js';
import validateProfile from './validate-profile.js';
import type { ProfileProblem } from './errors.js';

/** The folder of shipped profiles and their schema, found from this module's place under build/src/profiles/. */
export const PROFILE_DIRECTORY = fileURLToPath(new URL('../../../firmware-profiles/', import.meta.url));
/** The schema's file name inside {@link PROFILE_DIRECTORY}. */
export const PROFILE_SCHEMA_FILE = 'profile.schema.json';

/** The parsed JSON Schema, for tests and tools. */
export function profileSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(`${PROFILE_DIRECTORY}${PROFILE_SCHEMA_FILE}`, 'utf8')) as Record<string, unknown>;
}

/** Validates a parsed profile document against the schema; returns every problem, or none. */
export function schemaProblems(document: unknown): ProfileProblem[] {
  if (validateProfile(document)) return [];
  const problems = (validateProfile.errors ?? []).flatMap(toProblem);
  // ajv reports a failed `if`/`then` twice: once as the `then` keyword's own error, once as "must match then".
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\u0000${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Turns a JSON Pointer (RFC 6901) into a JSON path such as `$.sampling.collectors[1]`. */
export function jsonPath(pointer: string): string {
  if (pointer === '') return '$';
  return (
    '$' +
    pointer
      .slice(1)
      .split('/')
      .map((raw) => raw.replace(/~1/g, '/').replace(/~0/g, '~'))
      .map((key) => (/^\d+$/.test(key) ? `[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`))
      .join('')
  );
}

function child(pointer: string, key: string): string {
  return `${pointer}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
}

function describe(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

function toProblem(error: ErrorObject): ProfileProblem[] {
  const path = jsonPath(error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'if':
      return [];
    case 'required':
      return [{ path: jsonPath(child(error.instancePath, String(params.missingProperty))), message: 'is required' }];
    case 'additionalProperties':
      return [{ path: jsonPath(child(error.instancePath, String(params.additionalProperty))), message: 'is not a known setting' }];
    case 'false schema':
      return [{ path, message: 'is not allowed with the other settings of this object' }];
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
      return [{ path, message: `must be one of ${allowed}, got ${describe(error.data)}` }];
    }
    case 'type':
      return [{ path, message: `must be of type ${String(params.type)}, got ${describe(error.data)}` }];
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return [{ path, message: `must be ${String(params.comparison)} ${String(params.limit)}, got ${describe(error.data)}` }];
    case 'pattern':
      return [{ path, message: `must match ${String(params.pattern)}, got ${describe(error.data)}` }];
    default:
      return [{ path, message: error.message ?? `fails ${error.keyword}` }];
  }
}
