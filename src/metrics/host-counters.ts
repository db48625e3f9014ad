/**
 * Raw host counters, as read from /proc or from a node_exporter scrape, and the pure computation
 * that turns two successive readings into the host series. Both sources fill the same shape, so the
 * rates and ratios are computed in one place and mean the same thing whichever source is used.
 */
import type { SeriesValues } from './series.js';

/** Cumulative CPU time summed over all CPUs, in any one unit (jiffies from /proc, seconds from node_exporter). */
export interface CpuCounters {
  readonly totalTime: number;
  /** Idle plus I/O wait: the time the CPUs had nothing runnable. */
  readonly idleTime: number;
}

/** Memory gauges, in bytes. */
export interface MemoryGauges {
  readonly totalBytes: number;
  readonly availableBytes: number;
}

/** Cumulative PSI "some" stall time per resource, in seconds; a resource is absent where the kernel has no PSI. */
export interface StallCounters {
  readonly cpuSeconds?: number;
  readonly memorySeconds?: number;
  readonly ioSeconds?: number;
}

/** Cumulative counters of one whole disk (not a partition), in the units /proc/diskstats uses. */
export interface DiskCounters {
  readonly device: string;
  readonly readsCompleted: number;
  readonly writesCompleted: number;
  readonly readTimeMs: number;
  readonly writeTimeMs: number;
  /** Time with at least one request in flight. */
  readonly ioTimeMs: number;
}

/** Cumulative counters summed over every network interface except loopback. */
export interface NetworkCounters {
  readonly bytes: number;
  readonly errors: number;
}

/** One reading of the host; a part is absent when its source could not be read. */
export interface HostCounters {
  readonly timestampMs: number;
  readonly cpu?: CpuCounters;
  readonly memory?: MemoryGauges;
  readonly stall?: StallCounters;
  readonly disks?: readonly DiskCounters[];
  readonly network?: NetworkCounters;
}

// Devices that are not disks (loop, RAM disks, zram swap, floppies, optical drives) or are partitions of a
// disk already counted. The partition rules follow node_exporter's default device exclusion.
const ignoredDevicePattern = /^(loop|ram|zram|fd|sr)\d+$|^(h|s|v|xv)d[a-z]+\d+$|^(nvme\d+n\d+|mmcblk\d+)p\d+$/;

/** True for whole disks worth watching; false for loop devices, RAM disks and partitions. */
export function isWholeDisk(device: string): boolean {
  return !ignoredDevicePattern.test(device);
}

/** True for every network interface except loopback, whose traffic never leaves the host. */
export function isExternalInterface(name: string): boolean {
  return name !== 'lo';
}

function clampRatio(value: number): number {
  return Math.min(1, Math.max(0, value));
}

/**
 * Host series from two successive readings. Gauges come from `current` alone; a rate needs
 * `previous`, a positive elapsed time and counters that did not go backwards (a reset, a device
 * that vanished), otherwise it is left out rather than guessed.
 */
export function hostSeries(previous: HostCounters | undefined, current: HostCounters): SeriesValues {
  const values: SeriesValues = {};
  if (current.memory && current.memory.totalBytes > 0) {
    values.memory_pressure = clampRatio(1 - current.memory.availableBytes / current.memory.totalBytes);
  }
  const elapsedMs = previous === undefined ? 0 : current.timestampMs - previous.timestampMs;
  if (previous === undefined || elapsedMs <= 0) return values;
  addCpuSeries(values, previous.cpu, current.cpu);
  addStallSeries(values, previous.stall, current.stall, elapsedMs);
  addDiskSeries(values, previous.disks, current.disks, elapsedMs);
  addNetworkSeries(values, previous.network, current.network, elapsedMs);
  return values;
}

function addCpuSeries(values: SeriesValues, before: CpuCounters | undefined, after: CpuCounters | undefined): void {
  if (!before || !after) return;
  const total = after.totalTime - before.totalTime;
  const idle = after.idleTime - before.idleTime;
  if (total <= 0 || idle < 0) return;
  values.cpu_utilization = clampRatio(1 - idle / total);
}

function stallRatio(before: number | undefined, after: number | undefined, elapsedMs: number): number | undefined {
  if (before === undefined || after === undefined || after < before) return undefined;
  return clampRatio(((after - before) * 1000) / elapsedMs);
}

function addStallSeries(values: SeriesValues, before: StallCounters | undefined, after: StallCounters | undefined, elapsedMs: number): void {
  if (!before || !after) return;
  const cpu = stallRatio(before.cpuSeconds, after.cpuSeconds, elapsedMs);
  const memory = stallRatio(before.memorySeconds, after.memorySeconds, elapsedMs);
  const io = stallRatio(before.ioSeconds, after.ioSeconds, elapsedMs);
  if (cpu !== undefined) values.cpu_stall_ratio = cpu;
  if (memory !== undefined) values.memory_stall_ratio = memory;
  if (io !== undefined) values.io_stall_ratio = io;
}

function addDiskSeries(
  values: SeriesValues,
  before: readonly DiskCounters[] | undefined,
  after: readonly DiskCounters[] | undefined,
  elapsedMs: number,
): void {
  if (!before || !after) return;
  const beforeByDevice = new Map(before.map((disk) => [disk.device, disk]));
  let busiest = 0;
  let requests = 0;
  let requestTimeMs = 0;
  let matched = 0;
  for (const disk of after) {
    const old = beforeByDevice.get(disk.device);
    if (!old) continue;
    const completed = disk.readsCompleted + disk.writesCompleted - old.readsCompleted - old.writesCompleted;
    const timeMs = disk.readTimeMs + disk.writeTimeMs - old.readTimeMs - old.writeTimeMs;
    const ioTimeMs = disk.ioTimeMs - old.ioTimeMs;
    if (completed < 0 || timeMs < 0 || ioTimeMs < 0) continue; // counters wrapped or the device was replaced
    matched += 1;
    busiest = Math.max(busiest, ioTimeMs / elapsedMs);
    requests += completed;
    requestTimeMs += timeMs;
  }
  if (matched === 0) return;
  values.disk_utilization = clampRatio(busiest);
  values.disk_await_ms = requests === 0 ? 0 : requestTimeMs / requests;
}

function addNetworkSeries(
  values: SeriesValues,
  before: NetworkCounters | undefined,
  after: NetworkCounters | undefined,
  elapsedMs: number,
): void {
  if (!before || !after) return;
  const bytes = after.bytes - before.bytes;
  const errors = after.errors - before.errors;
  if (bytes >= 0) values.network_bytes_per_s = (bytes * 1000) / elapsedMs;
  if (errors >= 0) values.network_errors_per_s = (errors * 1000) / elapsedMs;
}
