/**
 * The host collector over a node_exporter text endpoint, for hosts where an operator already runs
 * node_exporter (`--node-exporter http://...`). It maps node_cpu_seconds_total, node_memory_*,
 * node_pressure_*, node_disk_* and node_network_* onto the same counters the /proc collector
 * reads, so both give the same series with the same meaning.
 */
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
  type StallCounters,
} from './host-counters.js';
import { EXPOSITION_BYTES_MAX, parseExposition, type MetricFamily } from './prometheus.js';

/** How long one scrape may take, connection and body included, before it counts as failed. */
export const NODE_EXPORTER_TIMEOUT_MS = 2000;
/** Largest scrape body accepted; node_exporter on a large host writes about 1 MiB. */
export const NODE_EXPORTER_BYTES_MAX = EXPOSITION_BYTES_MAX;

/** Options of {@link NodeExporterCollector} and {@link fetchNodeExporterText}. */
export interface NodeExporterOptions {
  readonly url: string;
  readonly timeoutMs?: number;
  readonly bytesMax?: number;
}

/** Collects the host series from a node_exporter endpoint, computing rates between successive scrapes. */
export class NodeExporterCollector implements Collector {
  readonly name = 'node_exporter';
  private previous: HostCounters | undefined;

  constructor(private readonly options: NodeExporterOptions) {}

  /** Scrapes the endpoint once; a failed scrape gives no series and one problem naming the endpoint. */
  async sample(nowMs: number): Promise<CollectorReading> {
    let families: Map<string, MetricFamily>;
    try {
      const text = await fetchNodeExporterText(this.options);
      families = parseExposition(text, { bytesMax: this.options.bytesMax ?? NODE_EXPORTER_BYTES_MAX });
    } catch (error) {
      if (!(error instanceof MetricsError)) throw error;
      return { values: {}, problems: [{ source: this.options.url, code: error.code, message: error.message }] };
    }
    const { counters, problems } = hostCountersFromExposition(families, nowMs, this.options.url);
    const values = hostSeries(this.previous, counters);
    this.previous = counters;
    return { values, problems };
  }
}

/** GETs a node_exporter endpoint, enforcing the timeout and the body size limit; failures are `MetricsError`s. */
export async function fetchNodeExporterText(options: NodeExporterOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? NODE_EXPORTER_TIMEOUT_MS;
  const bytesMax = options.bytesMax ?? NODE_EXPORTER_BYTES_MAX;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(options.url, { signal: controller.signal, headers: { accept: 'text/plain' } });
    if (response.status !== 200) {
      await response.body?.cancel();
      throw new MetricsError('SOURCE_HTTP_STATUS', `${options.url} answered HTTP ${response.status}`);
    }
    const declared = Number(response.headers.get('content-length') ?? 0);
    if (declared > bytesMax) {
      await response.body?.cancel();
      throw tooLarge(options.url, bytesMax);
    }
    return await readBodyBounded(response, options.url, bytesMax);
  } catch (error) {
    if (error instanceof MetricsError) throw error;
    if (controller.signal.aborted) throw new MetricsError('SOURCE_TIMEOUT', `${options.url} did not answer within ${timeoutMs} ms`);
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new MetricsError('SOURCE_UNREADABLE', `${options.url} cannot be scraped: ${cause}`);
  } finally {
    clearTimeout(timer);
  }
}

function tooLarge(url: string, bytesMax: number): MetricsError {
  return new MetricsError('SOURCE_TOO_LARGE', `${url} answered more than ${bytesMax} bytes`);
}

// The body is read chunk by chunk so an endpoint that streams without end is cut off at the limit.
async function readBodyBounded(response: Response, url: string, bytesMax: number): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let total = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > bytesMax) {
      await reader.cancel();
      throw tooLarge(url, bytesMax);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function values(families: Map<string, MetricFamily>, name: string): readonly { labels: Readonly<Record<string, string>>; value: number }[] {
  return families.get(name)?.samples ?? [];
}

function single(families: Map<string, MetricFamily>, name: string): number | undefined {
  return families.get(name)?.samples[0]?.value;
}

/**
 * Maps a parsed node_exporter scrape onto {@link HostCounters}. A group of metrics that is absent
 * (a collector disabled on node_exporter, a kernel without PSI) leaves its part out and adds a problem.
 */
export function hostCountersFromExposition(
  families: Map<string, MetricFamily>,
  nowMs: number,
  url: string,
): { counters: HostCounters; problems: SourceProblem[] } {
  const problems: SourceProblem[] = [];
  const need = <T>(group: string, part: T | undefined): T | undefined => {
    if (part === undefined) {
      problems.push({ source: `${url} ${group}`, code: 'SOURCE_MISSING', message: `${url} exposes no ${group} metrics` });
    }
    return part;
  };
  const counters: HostCounters = {
    timestampMs: nowMs,
    cpu: need('node_cpu_seconds_total', cpuCounters(families)),
    memory: need('node_memory_*', memoryGauges(families)),
    stall: need('node_pressure_*', stallCounters(families)),
    disks: need('node_disk_*', diskCounters(families)),
    network: need('node_network_*', networkCounters(families)),
  };
  return { counters, problems };
}

function cpuCounters(families: Map<string, MetricFamily>): CpuCounters | undefined {
  const samples = values(families, 'node_cpu_seconds_total');
  if (samples.length === 0) return undefined;
  let totalTime = 0;
  let idleTime = 0;
  for (const sample of samples) {
    totalTime += sample.value;
    if (sample.labels.mode === 'idle' || sample.labels.mode === 'iowait') idleTime += sample.value;
  }
  return { totalTime, idleTime };
}

function memoryGauges(families: Map<string, MetricFamily>): MemoryGauges | undefined {
  const totalBytes = single(families, 'node_memory_MemTotal_bytes');
  if (totalBytes === undefined) return undefined;
  const availableBytes =
    single(families, 'node_memory_MemAvailable_bytes') ??
    (single(families, 'node_memory_MemFree_bytes') ?? 0) +
      (single(families, 'node_memory_Buffers_bytes') ?? 0) +
      (single(families, 'node_memory_Cached_bytes') ?? 0);
  return { totalBytes, availableBytes };
}

// node_exporter calls PSI "some" time "waiting" (and "full" time "stalled"), in seconds.
function stallCounters(families: Map<string, MetricFamily>): StallCounters | undefined {
  const cpuSeconds = single(families, 'node_pressure_cpu_waiting_seconds_total');
  const memorySeconds = single(families, 'node_pressure_memory_waiting_seconds_total');
  const ioSeconds = single(families, 'node_pressure_io_waiting_seconds_total');
  if (cpuSeconds === undefined && memorySeconds === undefined && ioSeconds === undefined) return undefined;
  return { cpuSeconds, memorySeconds, ioSeconds };
}

function diskCounters(families: Map<string, MetricFamily>): DiskCounters[] | undefined {
  const byDevice = (name: string): Map<string, number> =>
    new Map(values(families, name).map((sample) => [sample.labels.device ?? '', sample.value]));
  const reads = byDevice('node_disk_reads_completed_total');
  const writes = byDevice('node_disk_writes_completed_total');
  const readSeconds = byDevice('node_disk_read_time_seconds_total');
  const writeSeconds = byDevice('node_disk_write_time_seconds_total');
  const ioSeconds = byDevice('node_disk_io_time_seconds_total');
  if (ioSeconds.size === 0) return undefined;
  const disks: DiskCounters[] = [];
  for (const [device, ioTime] of ioSeconds) {
    if (!isWholeDisk(device)) continue;
    disks.push({
      device,
      readsCompleted: reads.get(device) ?? 0,
      writesCompleted: writes.get(device) ?? 0,
      readTimeMs: (readSeconds.get(device) ?? 0) * 1000,
      writeTimeMs: (writeSeconds.get(device) ?? 0) * 1000,
      ioTimeMs: ioTime * 1000,
    });
  }
  return disks;
}

function networkCounters(families: Map<string, MetricFamily>): NetworkCounters | undefined {
  const received = values(families, 'node_network_receive_bytes_total');
  if (received.length === 0) return undefined;
  const sumExternal = (name: string): number =>
    values(families, name).reduce((sum, s) => (isExternalInterface(s.labels.device ?? '') ? sum + s.value : sum), 0);
  return {
    bytes: sumExternal('node_network_receive_bytes_total') + sumExternal('node_network_transmit_bytes_total'),
    errors: sumExternal('node_network_receive_errs_total') + sumExternal('node_network_transmit_errs_total'),
  };
}
