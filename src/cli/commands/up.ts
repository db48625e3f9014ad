import { resolve } from 'node:path';
import { procStatFields } from '../../common/proc-stat.js';
import { UsageError, envName, type Command, type ParsedOptions } from '../command.js';
import { MQTT_FILE_FLAGS, MQTT_LOGIN_FLAGS, mqttAuthFlags, mqttLogin, mqttTlsFlags } from '../mqtt-flags.js';
import { numberOption } from '../parse.js';
import { createLogger } from '../../common/log.js';
import { up } from '../../up/up.js';

/** The --mqtt-* flags given, flag name to value, for the parts and cluster.json (file paths made absolute). */
function loginFlagValues(options: ParsedOptions): Record<string, string> {
  return Object.fromEntries(MQTT_LOGIN_FLAGS.flatMap((flag) => {
    const value = options[flag];
    if (typeof value !== 'string') return [];
    return [[flag, MQTT_FILE_FLAGS.includes(flag) ? resolve(value) : value]];
  }));
}

/** Without --broker there is nothing to log in to: the embedded broker takes no login. */
function refuseLoginWithoutBroker(options: ParsedOptions): void {
  const given = MQTT_LOGIN_FLAGS.find((flag) => options[flag] !== undefined);
  if (given !== undefined) throw new UsageError(`--${given} (or $${envName(given)}) is for an external --broker; the embedded broker takes no login`);
}

/** How often `up` under npx checks that npx is still there. */
const LAUNCHER_CHECK_MS = 1000;

/** The parent of process `pid`, from /proc (Linux); null where it cannot be read. */
function parentOf(pid: number): number | null {
  try {
    const parent = Number(procStatFields(pid)[1]);
    return Number.isInteger(parent) && parent > 0 ? parent : null;
  } catch {
    return null;
  }
}

/**
 * Under `npx foreshard up`, `up` runs below npm and a shell. Killing npx (`kill $!` in a script, a
 * supervisor's SIGTERM or SIGKILL) ends npm, or npm and the shell, neither of which passes the signal
 * on, and would leave `up` and every part running, adopted by init. So under npm exec, `up` stops
 * when the process that started it or that one's parent (npm) is gone, as if told to. Started any
 * other way (`node bin/foreshard.js up &`, nohup) it keeps running when its parent exits.
 */
function watchLauncher(onGone: () => void): void {
  if (process.env.npm_command !== 'exec') return;
  const grandparent = parentOf(process.ppid);
  const launchers = grandparent !== null && grandparent > 1 ? [process.ppid, grandparent] : [process.ppid];
  const timer = setInterval(() => {
    for (const launcher of launchers) {
      try {
        process.kill(launcher, 0);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') continue;
        clearInterval(timer);
        onGone();
        return;
      }
    }
  }, LAUNCHER_CHECK_MS);
  timer.unref();
}

/** `foreshard up`: the local cluster, the default way to try foreshard. */
export const upCommand: Command = {
  name: 'up',
  summary: 'run a local cluster: embedded broker, coordinator, gateway, dashboard and N agents',
  usage: '[--agents 3] [--shards 16] [--shadows 2] [--data-dir ./.foreshard] [--gateway-port 7070] [--broker-port 1884 | --broker <url>] [--demo]',
  details: [
    'Each part runs as its own process with its log under <data-dir>/logs/. Ctrl-C stops them all.',
    'Running `up` again on the same --data-dir resumes the same cluster with all its data (same key,',
    'node ids, ports and shard count). Other commands find this cluster with --data-dir.',
    'Agents accept `foreshard chaos` faults (they run with --allow-chaos).',
    'With --broker, the --mqtt-* flags give that broker\'s login; `up` checks it first and passes it to',
    'every part. It keeps those flags (never a password) in cluster.json, so status, dashboard and the',
    'operator commands log in with --data-dir alone; a password from $FORESHARD_MQTT_PASSWORD must be',
    'exported again.',
  ].join('\n'),
  options: {
    agents: { type: 'string', description: 'number of agents (storage nodes), 2-32: every shard needs a shadow on another agent before a write is acknowledged', default: '3', valueName: '<n>' },
    shards: { type: 'string', description: 'shard count, fixed when the cluster is created, 1-4096', default: '16', valueName: '<n>' },
    shadows: { type: 'string', description: 'shadows of every shard, fixed when the cluster is created (default: 2 with 3 or more agents, else 1)', valueName: '<n>' },
    'data-dir': { type: 'string', description: 'directory for all data, logs, keys and the cluster state file', default: './.foreshard', valueName: '<dir>' },
    cluster: { type: 'string', description: 'cluster name', default: 'default', valueName: '<name>' },
    profile: { type: 'string', description: 'firmware profile the agents run, without its host collectors (they all share this machine; written to <data-dir>/profile.json)', default: 'generic-x86-server', valueName: '<name|path>' },
    host: { type: 'string', description: 'address every part listens on', default: '127.0.0.1', valueName: '<addr>' },
    'gateway-port': { type: 'string', description: 'client WebSocket port (ws://host:port/v1)', default: '7070', valueName: '<n>' },
    'dashboard-port': { type: 'string', description: 'dashboard HTTP port', default: '7080', valueName: '<n>' },
    'broker-port': { type: 'string', description: 'port of the embedded MQTT broker', default: '1884', valueName: '<n>' },
    broker: { type: 'string', description: 'use this MQTT broker instead of an embedded one', valueName: '<url>' },
    ...mqttAuthFlags,
    ...mqttTlsFlags,
    demo: { type: 'boolean', description: 'also run a background workload through the gateway', default: false },
    'demo-ops': { type: 'string', description: 'operations per second of the --demo workload', default: '100', valueName: '<n>' },
    'ready-timeout-ms': { type: 'string', description: 'how long each part may take to become ready', default: '60000', valueName: '<ms>' },
  },
  async run(_positionals, options) {
    if (typeof options.broker !== 'string') refuseLoginWithoutBroker(options);
    const logger = createLogger('up');
    const started = Date.now();
    const cluster = await up(
      {
        agents: numberOption(options, 'agents', 2, 32),
        shards: numberOption(options, 'shards', 1, 4096),
        ...(options.shadows === undefined ? {} : { shadows: numberOption(options, 'shadows', 1, 15) }),
        dataDir: String(options['data-dir']),
        cluster: String(options.cluster),
        profile: String(options.profile),
        host: String(options.host),
        gatewayPort: numberOption(options, 'gateway-port', 1, 65535),
        dashboardPort: numberOption(options, 'dashboard-port', 1, 65535),
        brokerPort: numberOption(options, 'broker-port', 1, 65535),
        ...(typeof options.broker === 'string' ? { brokerUrl: options.broker, brokerLogin: mqttLogin(options), brokerLoginFlags: loginFlagValues(options) } : {}),
        demo: options.demo === true,
        demoOpsPerSecond: numberOption(options, 'demo-ops', 1, 10_000),
        readyTimeoutMs: numberOption(options, 'ready-timeout-ms', 1000, 600_000),
      },
      logger,
    );
    const { state } = cluster;
    const dataDirFlag = `--data-dir ${String(options['data-dir'])}`;
    process.stdout.write(
      [
        `foreshard is up in ${((Date.now() - started) / 1000).toFixed(1)} s: cluster "${state.cluster}", ${state.agents.length} agents, ${state.shards} shards`,
        `  gateway    ${state.gatewayUrl}`,
        `  dashboard  ${state.dashboardUrl}`,
        `  broker     ${state.brokerUrl}`,
        `  logs       ${state.dataDir}/logs/`,
        '',
        `  status     npx foreshard status ${dataDirFlag}`,
        `  a fault    npx foreshard chaos ${state.agents[0]!.node} disk-latency --ramp 1:200/60 ${dataDirFlag}`,
        `  incidents  npx foreshard incidents ${dataDirFlag}`,
        '',
        'Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
    const reason = await new Promise<string>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
      watchLauncher(() => resolve('the npx that started it exited'));
    });
    process.stdout.write(reason.startsWith('SIG') ? 'stopping…\n' : `stopping: ${reason}…\n`);
    await cluster.stop();
    process.stdout.write('stopped\n');
    return 0;
  },
};
