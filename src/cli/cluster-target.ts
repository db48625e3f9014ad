/**
 * How a command that acts on a running cluster finds it (DESIGN.md §8): `--data-dir <dir>` reads the
 * state file that `foreshard up` keeps in that directory; `--broker <url>` (with `--cluster` and
 * `--cluster-key-file`) names any other cluster. One place, so every command resolves targets alike.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../store/files.js';
import { readClusterKeyFile } from '../agent/cluster-key.js';
import { OperatingError, UsageError, type OptionSpec, type ParsedOptions } from './command.js';
import { MQTT_LOGIN_FLAGS } from './mqtt-flags.js';

/** The state file `foreshard up` writes in its data directory. */
export const CLUSTER_STATE_FILE = 'cluster.json';

/** A local process that `foreshard up` started. */
export interface LocalProcess {
  pid: number;
  /** Where its log goes. */
  logFile: string;
}

/** What `foreshard up` records about the cluster it runs, for `status`, `chaos`, `switch`, …. */
export interface LocalClusterState {
  version: 1;
  cluster: string;
  /** Where the data directory lives (absolute). */
  dataDir: string;
  brokerUrl: string;
  /** The key that signs coordinator commands (hex text file). */
  clusterKeyFile: string;
  /** Key that signs gateway tokens, when auth is on. */
  tokenKeyFile?: string;
  gatewayUrl?: string;
  dashboardUrl?: string;
  /** The pid of `foreshard up` itself; 0 once it has stopped cleanly. */
  supervisorPid: number;
  /** Shard count chosen at creation (DESIGN §2: fixed for the cluster's life). */
  shards: number;
  /**
   * Shadows of every shard, chosen at creation (absent in clusters created before it was kept: the
   * coordinator's default, 1).
   */
  shadows?: number;
  /** Firmware profile the agents run. */
  profile: string;
  /**
   * The login `up --broker` was given, as its flags (`mqtt-username`, and the absolute paths of
   * `mqtt-password-file`, `mqtt-ca`, `mqtt-cert`, `mqtt-key`); never a password. Commands that find
   * the cluster through `--data-dir` log in with it ({@link withRecordedLogin}).
   */
  mqttLogin?: Record<string, string>;
  startedAt: string;
  broker?: LocalProcess;
  coordinator?: LocalProcess & { httpUrl: string };
  gateway?: LocalProcess & { httpUrl: string };
  dashboard?: LocalProcess;
  agents: Array<LocalProcess & { node: string; httpUrl: string; dataUrl: string }>;
}

/** The cluster a command acts on. */
export interface ClusterTarget {
  cluster: string;
  brokerUrl: string;
  /** The command-signing key, when one was found or given. */
  clusterKey?: Uint8Array;
  /** Present when the cluster was found through `--data-dir`. */
  local?: LocalClusterState;
}

/** The options every cluster-facing command declares. */
export const clusterTargetOptions: Record<string, OptionSpec> = {
  'data-dir': { type: 'string', description: 'data directory of a local cluster started by `foreshard up`', default: './.foreshard', valueName: '<dir>' },
  broker: { type: 'string', description: 'MQTT broker URL of any other cluster (overrides --data-dir)', valueName: '<url>' },
  cluster: { type: 'string', description: 'cluster name, with --broker', default: 'default', valueName: '<name>' },
  'cluster-key-file': { type: 'string', description: 'command-signing key file, with --broker (hex text, ≥ 32 bytes)', valueName: '<file>' },
};

/** Reads `<dataDir>/cluster.json`; an OperatingError says what to do when there is none. */
export function readClusterState(dataDir: string): LocalClusterState {
  const path = join(dataDir, CLUSTER_STATE_FILE);
  if (!existsSync(path)) {
    throw new OperatingError('NO_CLUSTER', `no cluster state in ${resolve(dataDir)}; start one with \`foreshard up --data-dir ${dataDir}\` or pass --broker <url>`);
  }
  let state: LocalClusterState;
  try {
    state = JSON.parse(readFileSync(path, 'utf8')) as LocalClusterState;
  } catch (error) {
    throw new OperatingError('BAD_CLUSTER_STATE', `cannot read ${path}: ${(error as Error).message}`);
  }
  if (state.version !== 1 || typeof state.brokerUrl !== 'string' || typeof state.cluster !== 'string' || !Array.isArray(state.agents)) {
    throw new OperatingError('BAD_CLUSTER_STATE', `${path} is not a foreshard cluster state file (version 1)`);
  }
  return state;
}

/** Writes `<dataDir>/cluster.json` atomically. */
export function writeClusterState(dataDir: string, state: LocalClusterState): void {
  writeFileAtomic(join(dataDir, CLUSTER_STATE_FILE), [Buffer.from(JSON.stringify(state, null, 2) + '\n')]);
}

/**
 * `options` with the login flags `up --broker` recorded in `local` filled in where the command line
 * gave none: a cluster started on a broker that wants a login is read and commanded with
 * `--data-dir` alone. A flag given on the command line wins. A password that came from
 * $FORESHARD_MQTT_PASSWORD is not recorded and has to be in the environment again.
 */
export function withRecordedLogin(options: ParsedOptions, local: LocalClusterState | undefined): ParsedOptions {
  const recorded = local?.mqttLogin;
  if (recorded === undefined || typeof recorded !== 'object') return options;
  const filled: ParsedOptions = { ...options };
  // Only the login flags are taken from the file; anything else there is ignored.
  for (const [flag, value] of Object.entries(recorded)) {
    if (MQTT_LOGIN_FLAGS.includes(flag) && typeof value === 'string' && filled[flag] === undefined) filled[flag] = value;
  }
  return filled;
}

/** True when the process `pid` exists (signal 0 probes without touching it). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Resolves `--broker`/`--cluster`/`--cluster-key-file`, or else `--data-dir`, into a target.
 * `needKey` makes a missing key a usage error (commands that send signed commands need it).
 */
export function resolveClusterTarget(options: ParsedOptions, needKey = false): ClusterTarget {
  const keyFile = typeof options['cluster-key-file'] === 'string' ? options['cluster-key-file'] : undefined;
  if (typeof options.broker === 'string') {
    if (needKey && keyFile === undefined) throw new UsageError('--broker needs --cluster-key-file to sign commands');
    return {
      cluster: String(options.cluster ?? 'default'),
      brokerUrl: options.broker,
      ...(keyFile !== undefined ? { clusterKey: readClusterKeyFile(keyFile) } : {}),
    };
  }
  const local = readClusterState(String(options['data-dir'] ?? './.foreshard'));
  const path = keyFile ?? local.clusterKeyFile;
  return { cluster: local.cluster, brokerUrl: local.brokerUrl, clusterKey: readClusterKeyFile(path), local };
}
