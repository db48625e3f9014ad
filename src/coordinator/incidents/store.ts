/**
 * The incident store: one JSON file per incident in a directory, written atomically (temporary file,
 * then rename) so a crash never leaves half an incident. `foreshard incidents` lists them.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoordinatorError } from '../errors.js';
import type { Incident } from './incident.js';

/** Default limit on incident files kept; the oldest go first. */
export const defaultMaxIncidentFiles = 10_000;
/** Incident files larger than this are refused when read. */
export const maxIncidentFileBytes = 1 << 20;

const idPattern = /^[A-Za-z0-9._-]{1,128}$/;

/** Stores incidents as `<dir>/<id>.json`. */
export class IncidentStore {
  constructor(
    readonly dir: string,
    private readonly maxFiles = defaultMaxIncidentFiles,
  ) {
    assert.ok(maxFiles >= 1, 'maxFiles must be at least 1');
  }

  /** Writes (or rewrites, when its outcome changes) one incident, then trims the oldest files. */
  async write(incident: Incident): Promise<void> {
    assert.ok(idPattern.test(incident.id), `incident id ${JSON.stringify(incident.id)} is not a file name`);
    await mkdir(this.dir, { recursive: true });
    const path = join(this.dir, `${incident.id}.json`);
    const temporary = `${path}.tmp`;
    await writeFile(temporary, JSON.stringify(incident, null, 2) + '\n');
    await rename(temporary, path);
    await this.trim();
  }

  /** Reads one incident by id; a file that is not an incident is a `BAD_INCIDENT_FILE` error. */
  async read(id: string): Promise<Incident> {
    if (!idPattern.test(id)) throw new CoordinatorError('BAD_INCIDENT_FILE', `bad incident id ${JSON.stringify(id)}`);
    const text = await readFile(join(this.dir, `${id}.json`), 'utf8');
    if (text.length > maxIncidentFileBytes) throw new CoordinatorError('BAD_INCIDENT_FILE', `incident ${id} is too large`);
    return parseIncident(text, id);
  }

  /** Every stored incident, oldest first (by opening time, then id). Unreadable files are skipped and counted. */
  async list(): Promise<{ incidents: Incident[]; skipped: number }> {
    const ids = await this.ids();
    const incidents: Incident[] = [];
    let skipped = 0;
    for (const id of ids) {
      try {
        incidents.push(await this.read(id));
      } catch (error) {
        if (!(error instanceof CoordinatorError) && (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        skipped++;
      }
    }
    incidents.sort((a, b) => a.openedAtMs - b.openedAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return { incidents, skipped };
  }

  private async ids(): Promise<string[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    return names.filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -'.json'.length)).filter((id) => idPattern.test(id));
  }

  private async trim(): Promise<void> {
    // Trimming reads every file, so it waits for a tenth more than the limit and then trims to it.
    const ids = await this.ids();
    if (ids.length <= this.maxFiles + Math.ceil(this.maxFiles / 10)) return;
    const { incidents } = await this.list();
    for (const incident of incidents.slice(0, incidents.length - this.maxFiles)) {
      await unlink(join(this.dir, `${incident.id}.json`)).catch(() => undefined);
    }
  }
}

function parseIncident(text: string, id: string): Incident {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CoordinatorError('BAD_INCIDENT_FILE', `incident ${id} is not JSON`);
  }
  const incident = value as Partial<Incident>;
  const ok =
    typeof incident === 'object' &&
    incident !== null &&
    incident.id === id &&
    typeof incident.shard === 'number' &&
    typeof incident.openedAtMs === 'number' &&
    typeof incident.timeline === 'object' &&
    typeof incident.outcome === 'object';
  if (!ok) throw new CoordinatorError('BAD_INCIDENT_FILE', `incident ${id} lacks required fields`);
  // Files written before these fields existed.
  incident.features ??= { shard: null, node: null };
  incident.outcome!.breachedWithinHorizon ??= null;
  return incident as Incident;
}
