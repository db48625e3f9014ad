/**
 * `npm run bench -- agent [--seconds 60] [--series 100] [--warm-up 5]`: the footprint of a real `foreshard agent`
 * process sampling 100 series at 1 Hz (the host's own series plus synthetic ones) and publishing
 * metrics and scores to an embedded broker. Measured from /proc/<pid>/stat (CPU ticks) and
 * /proc/<pid>/status (RSS) over the run, after a warm-up. The default 5 s warm-up measures a young
 * agent, whose models are still small (first fit at 30 samples, refits as the window grows); with
 * `--warm-up 660` the 600-sample windows of generic-x86-server are full and the figures are the steady
 * state, where each refit works on the whole window. Targets (issue 5): under 2% of one core and under
 * 60 MB RSS. For comparison, Netdata's documentation puts its agent at 1–5% of one core with machine
 * learning on.
 *
 * Each agent runs from its own copy of the node executable, as on a storage host where the agent is
 * the only node process: the agent pages out its start-up code 3 s after start
 * (src/agent/page-out.ts), and the kernel leaves alone the pages another process also maps, so beside
 * the bench's own node processes the agent would keep what they keep. One more agent runs from the
 * bench's node, sharing its pages with the bench and the peers, to show that case (info).
 * Peers measured in the same run, at the same time: the same agent with prediction off (what
 * forecasting costs), the same agent with --no-page-out (what the page-out buys), an idle `node -e`
 * process (what any node process costs), and an mqtt.js publisher started as the agent starts
 * (bench/lib/mqtt-floor.ts, from its own copy too: the least any process that publishes with mqtt.js,
 * as issue 5 asks, can be).
 * When the environment sets NODE_EXTRA_CA_CERTS, node parses that certificate file at start in every
 * process (this machine points it at the whole system bundle: 2 MB of RSS, docs/agent-memory.md,
 * "Seventh round"), so one more agent runs without it, for information; the verdict stays on the agent
 * as this environment starts it. One more agent runs as `foreshard agent --print-unit`'s systemd unit
 * starts it (--v8-pool-size=1), also for information: the verdict is on the plain command.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { decodeMessage } from '../src/protocol/index.js';
import { startEmbeddedBroker } from '../src/broker/embedded.js';
import { table } from './lib/stats.js';
import { procStatFields } from '../src/common/proc-stat.js';
import { AGENT_UNIT_NODE_FLAGS } from '../src/cli/agent-unit.js';
import { ownNodeCopy } from '../test/agent/harness.js';

const binPath = new URL('../../bin/foreshard.js', import.meta.url).pathname;
const floorPath = new URL('./lib/mqtt-floor.js', import.meta.url).pathname;
const cpuTargetPercent = 2;
const rssTargetBytes = 60 * 1024 * 1024;
const MiB = 1024 * 1024;

function argument(args: string[], name: string, fallback: number): number {
  const index = args.indexOf(`--${name}`);
  const value = index >= 0 ? Number(args[index + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

function clockTicksPerSecond(): number {
  const result = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const ticks = Number(result.stdout?.trim());
  return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
}

/** utime + stime of `pid`, in clock ticks (proc(5): fields 14 and 15). */
function cpuTicks(pid: number): number {
  const fields = procStatFields(pid);
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * Resident memory of `pid` (proc(5), /proc/<pid>/status): the total, and its anonymous and
 * file-backed parts; and its proportional set size (/proc/<pid>/smaps_rollup), where each page
 * shared with other processes counts divided by the number that map it.
 */
function residentBytes(pid: number): { rss: number; anonymous: number; file: number; pss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kB = (text: string, field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  let pss = Number.NaN;
  try {
    pss = kB(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'), 'Pss');
  } catch {
    // smaps_rollup needs Linux 4.14 and the right to read the process's maps.
  }
  return { rss: kB(status, 'VmRSS'), anonymous: kB(status, 'RssAnon'), file: kB(status, 'RssFile'), pss };
}

/** Which subject a row is: the agent under test, its peers, and the rows printed for information. */
type Role = 'agent' | 'no-prediction' | 'no-page-out' | 'shared-node' | 'idle' | 'floor' | 'without-certs' | 'unit';

interface Measured {
  name: string;
  role: Role;
  child: ChildProcess;
  startTicks: number;
  rss: number[];
  /** The last sample's split: anonymous (heaps, stacks) and file-backed (mapped code and data); and its PSS. */
  last: { anonymous: number; file: number; pss: number };
}

/** Counts the series in a metrics message of `node` once every source has a value. */
async function seriesCount(url: string, cluster: string, node: string): Promise<number> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
  try {
    // The third message: rates (CPU, disk, network) need two readings before they have a value.
    let received = 0;
    const message = new Promise<Buffer>((resolve) => client.on('message', (_topic, payload) => (++received === 3 ? resolve(payload) : undefined)));
    await client.subscribeAsync(`foreshard/v1/${cluster}/node/${node}/metrics`);
    return Object.keys(decodeMessage('metrics', await message).series).length;
  } finally {
    await client.endAsync();
  }
}

/** Runs the benchmark. */
export async function run(args: string[]): Promise<void> {
  const seconds = argument(args, 'seconds', 60);
  const targetSeries = argument(args, 'series', 100);
  const warmUpMs = argument(args, 'warm-up', 5) * 1000;
  const broker = await startEmbeddedBroker({ port: 0 });
  const dataRoot = mkdtempSync(join(tmpdir(), 'foreshard-bench-agent-'));
  const cluster = `bench-${Date.now().toString(36)}`;
  const children: ChildProcess[] = [];
  const ownNode = (name: string): string => ownNodeCopy(dataRoot, name);
  const startAgent = (node: string, extra: string[], how: { env?: NodeJS.ProcessEnv; nodeFlags?: readonly string[]; sharedNode?: boolean } = {}): ChildProcess => {
    const executable = how.sharedNode ? process.execPath : ownNode(node);
    const child = spawn(executable, [...(how.nodeFlags ?? []), binPath, 'agent', '--broker', broker.url, '--cluster', cluster, '--node-id', node, '--profile', 'generic-x86-server', '--data-dir', join(dataRoot, node), '--http-host', '127.0.0.1', '--http-port', '0', '--data-host', '127.0.0.1', '--data-port', '0', '--advertise-host', '127.0.0.1', ...extra], { stdio: 'ignore', env: { ...(how.env ?? process.env), FORESHARD_LOG_LEVEL: 'warn' } });
    children.push(child);
    return child;
  };
  try {
    // Probe how many series the host gives, so the synthetic ones make up the rest.
    startAgent('probe', ['--no-prediction'], { sharedNode: true });
    const hostSeries = await seriesCount(broker.url, cluster, 'probe');
    children.pop()!.kill('SIGTERM');
    const synthetic = Math.max(0, targetSeries - hostSeries);
    const series = ['--synthetic-series', String(synthetic)];
    const subjects: { name: string; role: Role; child: ChildProcess }[] = [
      { name: 'agent, prediction on', role: 'agent', child: startAgent('bench-on', series) },
      { name: 'agent, prediction off (peer)', role: 'no-prediction', child: startAgent('bench-off', [...series, '--no-prediction']) },
      { name: 'agent, prediction on, --no-page-out (peer)', role: 'no-page-out', child: startAgent('bench-keep', [...series, '--no-page-out']) },
      { name: 'agent, prediction on, node shared with the bench (info)', role: 'shared-node', child: startAgent('bench-shared', series, { sharedNode: true }) },
      { name: 'idle `node -e` (peer)', role: 'idle', child: spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }) },
      { name: 'mqtt.js publisher, started as the agent (peer)', role: 'floor', child: spawn(ownNode('floor'), [floorPath, broker.url, `foreshard/v1/${cluster}/floor`], { stdio: 'ignore' }) },
    ];
    children.push(subjects[4]!.child, subjects[5]!.child);
    const extraCaCerts = process.env['NODE_EXTRA_CA_CERTS'];
    if (extraCaCerts) {
      const { NODE_EXTRA_CA_CERTS: _unset, ...withoutCerts } = process.env;
      subjects.push({ name: 'agent, prediction on, without NODE_EXTRA_CA_CERTS (info)', role: 'without-certs', child: startAgent('bench-nocerts', series, { env: withoutCerts }) });
      console.log(`NODE_EXTRA_CA_CERTS is set (${extraCaCerts}): every node process here parses it at start; one row is the same agent without it`);
    }
    // As `foreshard agent --print-unit`'s systemd unit starts it: with node flags read only at start.
    subjects.push({ name: 'agent, prediction on, started as its systemd unit starts it (info)', role: 'unit', child: startAgent('bench-unit', series, { nodeFlags: AGENT_UNIT_NODE_FLAGS }) });
    console.log(`series per agent: ${hostSeries} from the host + ${synthetic} synthetic = ${hostSeries + synthetic}, sampled at 1 Hz; warm-up ${warmUpMs / 1000} s, then ${seconds} s measured`);
    await new Promise((resolve) => setTimeout(resolve, warmUpMs));
    const measured: Measured[] = subjects.map(({ name, role, child }) => ({ name, role, child, startTicks: cpuTicks(child.pid!), rss: [], last: { anonymous: 0, file: 0, pss: 0 } }));
    const startMs = Date.now();
    while (Date.now() - startMs < seconds * 1000) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      for (const subject of measured) {
        const { rss, anonymous, file, pss } = residentBytes(subject.child.pid!);
        subject.rss.push(rss);
        subject.last = { anonymous, file, pss };
      }
    }
    report(measured, (Date.now() - startMs) / 1000, clockTicksPerSecond());
  } finally {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await broker.close();
    rmSync(dataRoot, { recursive: true, force: true });
  }
}

/** "1.2 MB less" for a saving of 1.2 MB, "0.5 MB more" for a cost. */
function lessOrMore(savedBytes: number): string {
  return `${(Math.abs(savedBytes) / MiB).toFixed(1)} MB ${savedBytes >= 0 ? 'less' : 'more'}`;
}

function report(measured: Measured[], elapsedS: number, ticksPerSecond: number): void {
  const rows = measured.map((subject) => {
    const cpuPercent = ((cpuTicks(subject.child.pid!) - subject.startTicks) / ticksPerSecond / elapsedS) * 100;
    const rssMax = Math.max(...subject.rss);
    const rssLast = subject.rss[subject.rss.length - 1] ?? 0;
    return { name: subject.name, role: subject.role, cpuPercent, rssMax, rssLast, ...subject.last };
  });
  // The file-backed part is mostly node's own executable (about 30 MB in any node process): shared
  // with every other node process and reclaimable by the kernel, but counted in RSS all the same.
  // PSS, at the end, divides each shared page by the number of processes mapping it; it depends on
  // what else runs on the host (here: the bench, its peers and any other node process), so it is
  // printed for information only. The target is on RSS.
  console.log(table([
    ['process', 'CPU, % of one core', 'RSS max, MB', 'RSS at end, MB', 'of which anonymous', 'file-backed', 'PSS at end, MB (info)'],
    ...rows.map((r) => [r.name, r.cpuPercent.toFixed(2), (r.rssMax / MiB).toFixed(1), (r.rssLast / MiB).toFixed(1), (r.anonymous / MiB).toFixed(1), (r.file / MiB).toFixed(1), Number.isNaN(r.pss) ? 'n/a' : (r.pss / MiB).toFixed(1)]),
  ]));
  const row = (role: Role): (typeof rows)[number] | undefined => rows.find((candidate) => candidate.role === role);
  const on = row('agent')!;
  const off = row('no-prediction')!;
  const kept = row('no-page-out')!;
  const shared = row('shared-node')!;
  const idle = row('idle')!;
  const floor = row('floor')!;
  const asUnit = row('unit')!;
  const withoutCerts = row('without-certs');
  const rss = (r: (typeof rows)[number]): string => (r.rssMax / MiB).toFixed(1);
  console.log(`prediction costs ${(on.cpuPercent - off.cpuPercent).toFixed(2)} points of a core and ${((on.rssMax - off.rssMax) / MiB).toFixed(1)} MB; the agent over an idle node process: ${(on.cpuPercent - idle.cpuPercent).toFixed(2)} points, ${((on.rssMax - idle.rssMax) / MiB).toFixed(1)} MB`);
  console.log(`paging out the start-up code: ${lessOrMore(kept.rssMax - on.rssMax)} RSS max (${rss(kept)} MB with --no-page-out), ${(on.cpuPercent - kept.cpuPercent).toFixed(2)} points of a core`);
  console.log(`the agent over the mqtt.js publisher: ${((on.rssMax - floor.rssMax) / MiB).toFixed(1)} MB (the publisher alone: ${rss(floor)} MB, ${((rssTargetBytes - floor.rssMax) / MiB).toFixed(1)} MB under the target)`);
  console.log(`target CPU < ${cpuTargetPercent}% of one core: ${on.cpuPercent < cpuTargetPercent ? 'met' : 'NOT met'} (${on.cpuPercent.toFixed(2)}%)`);
  console.log(`target RSS < ${rssTargetBytes / MiB} MB: ${on.rssMax < rssTargetBytes ? 'met' : 'NOT met'} (${rss(on)} MB, the agent the only process mapping its node executable)`);
  console.log(`sharing node's executable with the bench's node processes (info): ${rss(shared)} MB RSS max; ${shared.rssMax < rssTargetBytes ? 'under' : 'over'} the target (the pages they also map stay resident)`);
  console.log(`started as its systemd unit starts it (--v8-pool-size=1; info): ${rss(asUnit)} MB RSS max, ${lessOrMore(on.rssMax - asUnit.rssMax)}, ${asUnit.cpuPercent.toFixed(2)}% of one core`);
  if (withoutCerts) {
    console.log(`without NODE_EXTRA_CA_CERTS (info): ${rss(withoutCerts)} MB RSS max, ${lessOrMore(on.rssMax - withoutCerts.rssMax)}; ${withoutCerts.rssMax < rssTargetBytes ? 'under' : 'still over'} the target`);
  }
  console.log('for comparison, Netdata documents 1-5% of one core for its agent with machine learning on');
}
