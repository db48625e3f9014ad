/**
 * One-line log records on stderr: `ts level component message {fields}`. Every part logs through
 * this so operators can grep one format. FORESHARD_LOG_LEVEL picks the floor (debug, info, warn,
 * error; default info), FORESHARD_LOG_FORMAT=json switches to one JSON object per line.
 */
import { isoTimestamp } from './date.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A component's logger. */
export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  /** A logger for a sub-component, e.g. `agent` → `agent.mqtt`. */
  child(name: string): Logger;
}

function floorFromEnv(): number {
  const level = (process.env.FORESHARD_LOG_LEVEL ?? 'info').toLowerCase() as LogLevel;
  return levelRank[level] ?? levelRank.info;
}

/** Creates a logger writing to `sink` (stderr by default). */
export function createLogger(component: string, sink: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const floor = floorFromEnv();
  const json = process.env.FORESHARD_LOG_FORMAT === 'json';
  const write = (level: LogLevel, message: string, fields?: Record<string, unknown>): void => {
    if (levelRank[level] < floor) return;
    const ts = isoTimestamp(Date.now()); // what toISOString gives, without starting ICU (./date.ts)
    if (json) {
      sink(JSON.stringify({ ts, level, component, message, ...fields }) + '\n');
      return;
    }
    const extra = fields && Object.keys(fields).length > 0 ? ' ' + JSON.stringify(fields) : '';
    sink(`${ts} ${level.padEnd(5)} ${component} ${message}${extra}\n`);
  };
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (name) => createLogger(`${component}.${name}`, sink),
  };
}
