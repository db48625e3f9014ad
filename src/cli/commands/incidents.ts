import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { OperatingError, UsageError, type Command } from '../command.js';
import { CLUSTER_STATE_FILE } from '../cluster-target.js';
import { IncidentStore } from '../../coordinator/incidents/store.js';
import type { Incident } from '../../coordinator/incidents/incident.js';
import { incidentDir } from '../../coordinator/service.js';

/**
 * Where the incidents of `dataDir` are: a `foreshard up` directory keeps the coordinator's data under
 * `coordinator/`, and a coordinator's own `--data-dir` holds `incidents/` directly.
 */
export function incidentDirectory(dataDir: string): string {
  if (existsSync(join(dataDir, CLUSTER_STATE_FILE))) return join(dataDir, 'coordinator', incidentDir);
  return join(dataDir, incidentDir);
}

function line(incident: Incident): string {
  const route = `${incident.fromNode ?? '-'} -> ${incident.toNode ?? '-'}`;
  const epochs = `${incident.epochBefore} -> ${incident.epochAfter ?? '-'}`;
  const took = incident.closedAtMs === null ? 'open' : `${incident.closedAtMs - incident.openedAtMs} ms`;
  return [new Date(incident.openedAtMs).toISOString(), incident.id, incident.kind, `shard ${incident.shard}`, route, `epoch ${epochs}`, incident.outcome.result, took, incident.reason, driverText(incident)].filter(Boolean).join('  ');
}

/** The top driver: its series, value → forecast (and how far ahead when short of the horizon) against its SLO. */
function driverText(incident: Incident): string {
  const top = incident.drivers[0];
  if (top === undefined) return '';
  const number = (value: number): string => (Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3));
  const ahead = top.forecastS === undefined ? '' : ` in ${top.forecastS} s`;
  const side = top.direction === 'below' ? '≥' : '≤';
  return `driver ${top.series} ${number(top.value)} → ${number(top.forecast)}${ahead} (SLO ${side} ${number(top.threshold)})`;
}

/** `foreshard incidents`: the coordinator's incidents, oldest first. */
export const incidentsCommand: Command = {
  name: 'incidents',
  summary: 'list the incidents the coordinator wrote (switches, failovers, unavailable shards)',
  usage: '[--json] [--data-dir <dir>]',
  details: [
    'Reads <data-dir>/coordinator/incidents/ for a directory made by `foreshard up` (it has cluster.json),',
    'else <data-dir>/incidents/ (the --data-dir of `foreshard coordinator`). One line per incident: when,',
    'id, kind, shard, old -> new primary, epochs, result, duration, reason and the top driver (series,',
    'value -> forecast against its SLO). --json prints a JSON array',
    'of the stored incidents, each with its timeline (scores and steps), drivers and outcome.',
  ].join('\n'),
  options: {
    'data-dir': { type: 'string', description: 'data directory of `foreshard up` or of the coordinator', default: './.foreshard', valueName: '<dir>' },
    json: { type: 'boolean', description: 'print a JSON array', default: false },
  },
  async run(positionals, options) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const dataDir = String(options['data-dir']);
    if (!existsSync(dataDir)) throw new OperatingError('NO_DATA_DIR', `no directory ${dataDir}`);
    const { incidents, skipped } = await new IncidentStore(incidentDirectory(dataDir)).list();
    if (skipped > 0) process.stderr.write(`skipped ${skipped} unreadable incident files\n`);
    if (options.json === true) {
      process.stdout.write(JSON.stringify(incidents, null, 2) + '\n');
    } else if (incidents.length === 0) {
      process.stdout.write('no incidents\n');
    } else {
      for (const incident of incidents) process.stdout.write(line(incident) + '\n');
    }
    return 0;
  },
};
