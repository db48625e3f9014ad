// Proves the /proc collector turns procfs text into the documented series: gauges from one reading,
// rates from two readings two seconds apart, partitions and loop devices ignored, a missing PSI or
// diskstats source reported as a problem while the rest still counts, and the real /proc of this
// machine readable. Fixture trees under test/metrics/fixtures/ stand in for /proc.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ProcCollector, parseDiskstats, parseMeminfo, parseNetDev, parseProcStat, readProcCounters } from '../../src/metrics/proc.js';
import { fixturePath } from './fixtures.js';

function near(actual: number | undefined, expected: number, what: string): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-9, `${what}: expected ${expected}, got ${actual}`);
}

describe('proc collector on fixtures', () => {
  it('reports only gauges on the first sample, since rates need two', async () => {
    const collector = new ProcCollector({ root: fixturePath('proc-a') });
    const reading = await collector.sample(10_000);
    assert.deepEqual(reading.problems, []);
    assert.deepEqual(Object.keys(reading.values), ['memory_pressure']);
    near(reading.values.memory_pressure, 0.75, 'memory_pressure = 1 - 4096000/16384000');
  });

  it('computes every host series from two samples two seconds apart', async () => {
    const first = await readProcCounters(fixturePath('proc-a'), 10_000);
    const second = await readProcCounters(fixturePath('proc-b'), 12_000);
    const { hostSeries } = await import('../../src/metrics/host-counters.js');
    const values = hostSeries(first.counters, second.counters);
    near(values.cpu_utilization, 0.6, 'cpu: 600 busy of 1000 jiffies');
    near(values.memory_pressure, 0.75, 'memory');
    near(values.cpu_stall_ratio, 0.25, 'cpu PSI: 0.5 s of 2 s');
    near(values.memory_stall_ratio, 0.05, 'memory PSI: 0.1 s of 2 s');
    near(values.io_stall_ratio, 0.3, 'io PSI: 0.6 s of 2 s');
    near(values.disk_utilization, 0.5, 'busiest disk sda: 1000 ms busy of 2000 (sda1 and loop0 ignored)');
    near(values.disk_await_ms, 2.2, 'await: 2200 ms over 1000 requests on sda and nvme0n1');
    near(values.network_bytes_per_s, 1_500_000, 'eth0 3 MB in 2 s, loopback excluded');
    near(values.network_errors_per_s, 2.5, 'eth0 5 errors in 2 s');
  });

  it('the collector keeps the previous reading, so its second sample has the rates', async () => {
    const collector = new ProcCollector({ root: fixturePath('proc-a') });
    await collector.sample(10_000);
    (collector as unknown as { root: string }).root = fixturePath('proc-b');
    const { values } = await collector.sample(12_000);
    near(values.cpu_utilization, 0.6, 'cpu');
    near(values.network_errors_per_s, 2.5, 'network errors');
  });

  it('degrades without PSI: the three pressure files are reported missing, everything else still counts', async () => {
    const collector = new ProcCollector({ root: fixturePath('proc-no-psi') });
    const { values, problems } = await collector.sample(1000);
    assert.deepEqual(
      problems.map((p) => [p.source.replace(fixturePath('proc-no-psi'), ''), p.code]),
      [
        ['/pressure/cpu', 'SOURCE_MISSING'],
        ['/pressure/memory', 'SOURCE_MISSING'],
        ['/pressure/io', 'SOURCE_MISSING'],
      ],
    );
    near(values.memory_pressure, 0.75, 'memory still read');
    const second = await collector.sample(2000);
    assert.equal(second.values.cpu_stall_ratio, undefined);
    assert.equal(second.values.disk_await_ms, 0, 'no requests completed');
  });

  it('degrades in a container without diskstats: the disk series are absent, not zero', async () => {
    const collector = new ProcCollector({ root: fixturePath('proc-container') });
    await collector.sample(1000);
    const { values, problems } = await collector.sample(2000);
    assert.ok(problems.some((p) => p.source.endsWith('diskstats') && p.code === 'SOURCE_MISSING'));
    assert.equal(values.disk_utilization, undefined);
    assert.equal(values.disk_await_ms, undefined);
    assert.equal(values.network_bytes_per_s, 0);
  });

  it('refuses a procfs file larger than its limit, as a problem for that source only', async () => {
    const { problems, counters } = await readProcCounters(fixturePath('proc-a'), 1, 200);
    assert.ok(problems.some((p) => p.source.endsWith('stat') && p.code === 'SOURCE_TOO_LARGE'));
    assert.equal(counters.cpu, undefined);
    assert.ok(counters.stall?.ioSeconds !== undefined, 'the small pressure files are under the limit and still read');
  });
});

describe('procfs parsers', () => {
  it('rejects malformed text with SOURCE_MALFORMED', () => {
    assert.throws(() => parseProcStat('intr 1 2 3\n'), { code: 'SOURCE_MALFORMED' });
    assert.throws(() => parseProcStat('cpu  1 2 x 4 5\n'), { code: 'SOURCE_MALFORMED' });
    assert.throws(() => parseMeminfo('MemFree: 1 kB\n'), { code: 'SOURCE_MALFORMED' });
    assert.throws(() => parseNetDev('header\nheader\n'), { code: 'SOURCE_MALFORMED' });
  });

  it('estimates available memory on kernels without MemAvailable', () => {
    const gauges = parseMeminfo('MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 250 kB\n');
    assert.deepEqual(gauges, { totalBytes: 1_024_000, availableBytes: 409_600 });
  });

  it('keeps whole disks and drops partitions, loop, zram and ram devices', () => {
    const lines = ['sda', 'sda1', 'nvme0n1', 'nvme0n1p2', 'mmcblk0', 'mmcblk0p1', 'vdb', 'vdb3', 'xvda', 'xvda1', 'dm-0', 'md0', 'loop3', 'zram0', 'ram1', 'sr0']
      .map((name) => `   8 0 ${name} 1 0 0 1 1 0 0 1 0 1 1`)
      .join('\n');
    assert.deepEqual(
      parseDiskstats(lines).map((d) => d.device),
      ['sda', 'nvme0n1', 'mmcblk0', 'vdb', 'xvda', 'dm-0', 'md0'],
    );
  });
});

describe('the real /proc of this machine', () => {
  it('samples twice and gets CPU, memory and network series in range', async () => {
    const collector = new ProcCollector();
    await collector.sample(Date.now());
    await new Promise((resolve) => setTimeout(resolve, 50));
    const { values, problems } = await collector.sample(Date.now());
    for (const problem of problems) assert.equal(problem.code, 'SOURCE_MISSING', `${problem.source}: ${problem.message}`);
    assert.ok(values.cpu_utilization !== undefined && values.cpu_utilization >= 0 && values.cpu_utilization <= 1);
    assert.ok(values.memory_pressure !== undefined && values.memory_pressure > 0 && values.memory_pressure < 1);
    assert.ok(values.network_bytes_per_s !== undefined && values.network_bytes_per_s >= 0);
    if (existsSync('/proc/pressure/io')) assert.ok(values.io_stall_ratio !== undefined && values.io_stall_ratio <= 1);
    if (existsSync('/proc/diskstats')) assert.ok(values.disk_utilization !== undefined && values.disk_utilization <= 1);
  });
});
