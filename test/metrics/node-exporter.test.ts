// Proves the node_exporter collector reads a realistic scrape (fixtures node-exporter-{a,b}.prom,
// the same host state as the proc-{a,b} trees) into the same series as the /proc collector, over a
// real HTTP server started here, and that an endpoint that is slow, too large, failing or absent
// becomes a typed problem instead of a crash.
import assert from 'node:assert/strict';
import { createServer, type RequestListener, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { hostSeries } from '../../src/metrics/host-counters.js';
import { NodeExporterCollector, fetchNodeExporterText, hostCountersFromExposition } from '../../src/metrics/node-exporter.js';
import { readProcCounters } from '../../src/metrics/proc.js';
import { parseExposition } from '../../src/metrics/prometheus.js';
import { fixturePath } from './fixtures.js';

const scrapeA = readFileSync(fixturePath('node-exporter-a.prom'), 'utf8');
const scrapeB = readFileSync(fixturePath('node-exporter-b.prom'), 'utf8');

const servers: Server[] = [];
after(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

async function serve(handler: RequestListener): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;
}

function assertSameSeries(actual: Record<string, number>, expected: Record<string, number>): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
  for (const [name, value] of Object.entries(expected)) {
    assert.ok(Math.abs(actual[name]! - value) < 1e-6 * Math.max(1, Math.abs(value)), `${name}: ${actual[name]} != ${value}`);
  }
}

describe('node_exporter text', () => {
  it('parses a realistic scrape, summaries and escaped label values included', () => {
    const families = parseExposition(scrapeA);
    assert.equal(families.get('node_cpu_seconds_total')!.type, 'counter');
    assert.equal(families.get('node_cpu_seconds_total')!.samples.length, 16);
    const gc = families.get('go_gc_duration_seconds')!;
    assert.equal(gc.type, 'summary');
    assert.deepEqual(gc.samples.map((s) => s.name).slice(-2), ['go_gc_duration_seconds_sum', 'go_gc_duration_seconds_count']);
    const mountpoints = families.get('node_filesystem_avail_bytes')!.samples.map((s) => s.labels.mountpoint);
    assert.deepEqual(mountpoints, ['/', '/srv/data "cold" tier\\archive']);
    assert.equal(families.get('node_uname_info')!.samples[0]!.labels.version, '#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)');
  });

  it('gives the same series as /proc for the same host state', async () => {
    const fromExporter = hostSeries(
      hostCountersFromExposition(parseExposition(scrapeA), 10_000, 'x').counters,
      hostCountersFromExposition(parseExposition(scrapeB), 12_000, 'x').counters,
    );
    const fromProc = hostSeries(
      (await readProcCounters(fixturePath('proc-a'), 10_000)).counters,
      (await readProcCounters(fixturePath('proc-b'), 12_000)).counters,
    );
    assertSameSeries(fromExporter as Record<string, number>, fromProc as Record<string, number>);
    assert.equal(Object.keys(fromProc).length, 9);
  });

  it('reports a metric group the exporter does not expose, and keeps the rest', () => {
    const withoutPressure = scrapeA
      .split('\n')
      .filter((line) => !line.includes('node_pressure_'))
      .join('\n');
    const { counters, problems } = hostCountersFromExposition(parseExposition(withoutPressure), 1, 'http://h/metrics');
    assert.deepEqual(problems.map((p) => [p.source, p.code]), [['http://h/metrics node_pressure_*', 'SOURCE_MISSING']]);
    assert.ok(counters.cpu && counters.memory && counters.disks && counters.network);
  });
});

describe('node_exporter over HTTP', () => {
  it('scrapes a real endpoint twice and computes the rates', async () => {
    let scrapes = 0;
    const url = await serve((_, response) => {
      response.setHeader('content-type', 'text/plain; version=0.0.4; charset=utf-8');
      response.end(scrapes++ === 0 ? scrapeA : scrapeB);
    });
    const collector = new NodeExporterCollector({ url });
    const first = await collector.sample(10_000);
    assert.deepEqual(first.problems, []);
    assert.deepEqual(Object.keys(first.values), ['memory_pressure']);
    const second = await collector.sample(12_000);
    assert.deepEqual(second.problems, []);
    assert.ok(Math.abs(second.values.cpu_utilization! - 0.6) < 1e-9);
    assert.ok(Math.abs(second.values.disk_await_ms! - 2.2) < 1e-9);
    assert.equal(second.values.network_bytes_per_s, 1_500_000);
  });

  it('gives up on a silent endpoint after the timeout', async () => {
    const url = await serve(() => {
      /* never answers */
    });
    await assert.rejects(fetchNodeExporterText({ url, timeoutMs: 150 }), { code: 'SOURCE_TIMEOUT' });
  });

  it('cuts off a body past the size limit, declared or streamed', async () => {
    const declared = await serve((_, response) => response.end('x'.repeat(5000)));
    await assert.rejects(fetchNodeExporterText({ url: declared, bytesMax: 4096 }), { code: 'SOURCE_TOO_LARGE' });
    const streamed = await serve((_, response) => {
      const chunk = `# ${'y'.repeat(1022)}\n`;
      const timer = setInterval(() => response.write(chunk), 1);
      response.on('close', () => clearInterval(timer));
    });
    await assert.rejects(fetchNodeExporterText({ url: streamed, bytesMax: 8192 }), { code: 'SOURCE_TOO_LARGE' });
  });

  it('turns an HTTP error, a refused connection and a malformed body into problems of the endpoint', async () => {
    const failing = await serve((_, response) => {
      response.statusCode = 503;
      response.end('busy');
    });
    const garbage = await serve((_, response) => response.end('node_cpu_seconds_total{cpu="0" 1\n'));
    const closed = await serve(() => undefined);
    servers.at(-1)!.close();
    const cases: [string, string][] = [
      [failing, 'SOURCE_HTTP_STATUS'],
      [garbage, 'EXPOSITION_MALFORMED'],
      [closed, 'SOURCE_UNREADABLE'],
    ];
    for (const [url, code] of cases) {
      const reading = await new NodeExporterCollector({ url, timeoutMs: 1000 }).sample(1);
      assert.deepEqual(reading.values, {});
      assert.deepEqual(reading.problems.map((p) => [p.source, p.code]), [[url, code]]);
    }
  });
});
