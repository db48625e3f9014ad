/**
 * The host collector over procfs: /proc/stat, /proc/meminfo, /proc/pressure/{cpu,memory,io},
 * /proc/diskstats and /proc/net/dev. The root is a parameter so tests can point it at fixture
 * trees. Each file is one source: a file that is missing (no PSI on this kernel, no diskstats in a
 * container) leaves its series out and is reported as a problem, and the other files still count.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Collector, CollectorReading, SourceProblem } from './collector.js';
import { MetricsError } from './errors.js';
import {
  hostSeries,
  isExternalInterface,
  isWholeDisk,
  type CpuCounters,
  type DiskCounters,
  type HostCounters,
  type MemoryGauges,
  type NetworkCounters,
} from './host-counters.js';

/** Largest procfs file read, so a host with thousands of devices cannot make one sample unbounded. */
export const PROC_FILE_BYTES_MAX = 4 * 1024 * 1024;
const readChunkBytes = 64 * 1024;

/** Options of {@link ProcCollector}. */
export interface ProcCollectorOptions {
  /** The procfs mount to read; `/proc` unless a test points it at a fixture tree. */
  readonly root?: string;
  readonly fileBytesMax?: number;
}

/** Collects the host series from procfs, computing rates between successive samples. */
export class ProcCollector implements Collector {
  readonly name = 'proc';
  private readonly root: string;
  private readonly fileBytesMax: number;
  private previous: HostCounters | undefined;

  constructor(options: ProcCollectorOptions = {}) {
    this.root = options.root ?? '/proc';
    this.fileBytesMax = options.fileBytesMax ?? PROC_FILE_BYTES_MAX;
  }

  /** Reads every procfs source once and returns the series computable from this and the previous reading. */
  async sample(nowMs: number): Promise<CollectorReading> {
    const { counters, problems } = await readProcCounters(this.root, nowMs, this.fileBytesMax);
    const values = hostSeries(this.previous, counters);
    this.previous = counters;
    return { values, problems };
  }
}

/** Reads all procfs sources under `root` into one {@link HostCounters}, listing the sources that failed. */
export async function readProcCounters(
  root: string,
  nowMs: number,
  fileBytesMax: number = PROC_FILE_BYTES_MAX,
): Promise<{ counters: HostCounters; problems: SourceProblem[] }> {
  // The reads run at once and fail in whatever order the file system answers; each problem takes
  // its source's slot, so they are reported (and logged) in the order the sources are listed here.
  const slots: (SourceProblem | undefined)[] = [];
  const read = async <T>(relative: string, parse: (text: string) => T): Promise<T | undefined> => {
    const path = join(root, relative);
    const slot = slots.push(undefined) - 1;
    try {
      return parse(await readBounded(path, fileBytesMax));
    } catch (error) {
      if (!(error instanceof MetricsError)) throw error;
      slots[slot] = { source: path, code: error.code, message: error.message };
      return undefined;
    }
  };
  const [cpu, memory, cpuStall, memoryStall, ioStall, disks, network] = await Promise.all([
    read('stat', parseProcStat),
    read('meminfo', parseMeminfo),
    read('pressure/cpu', parsePressureSomeSeconds),
    read('pressure/memory', parsePressureSomeSeconds),
    read('pressure/io', parsePressureSomeSeconds),
    read('diskstats', parseDiskstats),
    read('net/dev', parseNetDev),
  ]);
  const stall =
    cpuStall === undefined && memoryStall === undefined && ioStall === undefined
      ? undefined
      : { cpuSeconds: cpuStall, memorySeconds: memoryStall, ioSeconds: ioStall };
  const problems = slots.filter((problem): problem is SourceProblem => problem !== undefined);
  return { counters: { timestampMs: nowMs, cpu, memory, stall, disks, network }, problems };
}

/** Reads a whole file, refusing one larger than `bytesMax`; procfs files report size 0, so stat cannot tell. */
async function readBounded(path: string, bytesMax: number): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(readChunkBytes);
      const { bytesRead } = await handle.read(chunk, 0, readChunkBytes, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > bytesMax) throw new MetricsError('SOURCE_TOO_LARGE', `${path} is larger than ${bytesMax} bytes`);
      chunks.push(chunk.subarray(0, bytesRead));
    }
    return Buffer.concat(chunks).toString('utf8');
  } catch (error) {
    throw asSourceError(path, error);
  } finally {
    await handle?.close();
  }
}

function asSourceError(path: string, error: unknown): unknown {
  if (error instanceof MetricsError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  // A kernel built without PSI has no /proc/pressure; one booted with psi=0 has the files but refuses reads.
  if (code === 'ENOENT' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOTDIR') {
    return new MetricsError('SOURCE_MISSING', `${path} is not present on this host`);
  }
  if (code !== undefined) return new MetricsError('SOURCE_UNREADABLE', `${path} cannot be read: ${code}`);
  return error;
}

function malformed(file: string, detail: string): MetricsError {
  return new MetricsError('SOURCE_MALFORMED', `${file}: ${detail}`);
}

function numberField(text: string | undefined, file: string): number {
  const value = Number(text);
  if (text === undefined || text === '' || !Number.isFinite(value)) throw malformed(file, `expected a number, got ${JSON.stringify(text)}`);
  return value;
}

/**
 * Aggregate CPU times from the `cpu` line of /proc/stat (proc(5)). Guest time is already counted
 * in user and nice, so only the first eight fields make up the total.
 */
export function parseProcStat(text: string): CpuCounters {
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) throw malformed('stat', 'no aggregate "cpu" line');
  const fields = line.trim().split(/\s+/).slice(1, 9);
  if (fields.length < 5) throw malformed('stat', `"cpu" line has ${fields.length} fields, expected at least 5`);
  const times = fields.map((field) => numberField(field, 'stat'));
  const idleTime = times[3]! + times[4]!;
  return { totalTime: times.reduce((sum, t) => sum + t, 0), idleTime };
}

/** MemTotal and MemAvailable from /proc/meminfo, in bytes; kernels before 3.14 lack MemAvailable, so estimate it. */
export function parseMeminfo(text: string): MemoryGauges {
  const kibibytes = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+(?:\(\w+\))?):\s+(\d+)/.exec(line);
    if (match) kibibytes.set(match[1]!, Number(match[2]));
  }
  const total = kibibytes.get('MemTotal');
  if (total === undefined) throw malformed('meminfo', 'no MemTotal line');
  const available =
    kibibytes.get('MemAvailable') ??
    (kibibytes.get('MemFree') ?? 0) + (kibibytes.get('Buffers') ?? 0) + (kibibytes.get('Cached') ?? 0);
  return { totalBytes: total * 1024, availableBytes: available * 1024 };
}

/** The cumulative "some" stall time of one /proc/pressure file, in seconds (the kernel counts microseconds). */
export function parsePressureSomeSeconds(text: string): number {
  const line = text.split('\n').find((l) => l.startsWith('some '));
  const total = line === undefined ? undefined : /\btotal=(\d+)/.exec(line)?.[1];
  if (total === undefined) throw malformed('pressure', 'no "some ... total=" line');
  return Number(total) / 1e6;
}

/** Per-disk counters from /proc/diskstats (Documentation/admin-guide/iostats.rst), whole disks only. */
export function parseDiskstats(text: string): DiskCounters[] {
  const disks: DiskCounters[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 14) continue; // blank line, or a pre-2.6.25 partition line with 4 counters
    const device = fields[2]!;
    if (!isWholeDisk(device)) continue;
    disks.push({
      device,
      readsCompleted: numberField(fields[3], 'diskstats'),
      readTimeMs: numberField(fields[6], 'diskstats'),
      writesCompleted: numberField(fields[7], 'diskstats'),
      writeTimeMs: numberField(fields[10], 'diskstats'),
      ioTimeMs: numberField(fields[12], 'diskstats'),
    });
  }
  return disks;
}

/** Bytes and errors summed over every interface but loopback, from /proc/net/dev. */
export function parseNetDev(text: string): NetworkCounters {
  let bytes = 0;
  let errors = 0;
  let interfaces = 0;
  for (const line of text.split('\n').slice(2)) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    const fields = line.slice(colon + 1).trim().split(/\s+/);
    if (fields.length < 16) throw malformed('net/dev', `interface ${name} has ${fields.length} fields, expected 16`);
    interfaces += 1;
    if (!isExternalInterface(name)) continue;
    bytes += numberField(fields[0], 'net/dev') + numberField(fields[8], 'net/dev');
    errors += numberField(fields[2], 'net/dev') + numberField(fields[10], 'net/dev');
  }
  if (interfaces === 0) throw malformed('net/dev', 'no interface lines');
  return { bytes, errors };
}
