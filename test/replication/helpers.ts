// Shared helpers of the replication tests: hosts on loopback with their own data directories,
// a gateway-style client, and waiting for a condition without timing assertions.
import { ShardHost, DataPortClient, type ShardHostOptions } from '../../src/replication/index.js';
import type { DataResponseFrame } from '../../src/protocol/index.js';
import { tempDataDir } from '../store/helpers.js';

export { seededRandom, testSeed, tempDataDir } from '../store/helpers.js';

/** A started ShardHost with a temp data dir; `stop` closes it and removes the dir. */
export interface TestHost {
  host: ShardHost;
  dataDir: string;
  stop(): Promise<void>;
}

/** Starts a host on a free loopback port with quick, quiet test settings. */
export async function startHost(node: string, options: Partial<ShardHostOptions> = {}): Promise<TestHost> {
  const { dir, cleanup } = tempDataDir(`repl-${node}`);
  const host = await ShardHost.start({ dataDir: dir, node, batchMs: 1, applyDelayMs: 50, ackTimeoutMs: 2_000, reconnectDelayMs: 20, reconnectDelayMaxMs: 200, ...options });
  return {
    host,
    dataDir: dir,
    stop: async () => {
      await host.close();
      cleanup();
    },
  };
}

/** Polls `condition` every 5 ms until it holds; throws with `what` after `limitMs` (a hang guard, not a timing assertion). */
export async function waitFor(what: string, condition: () => boolean, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Connects a gateway-role client to a host. */
export function connectClient(host: ShardHost, token?: string): Promise<DataPortClient> {
  return DataPortClient.connect({ url: host.dataUrl, node: 'gw-test', ...(token === undefined ? {} : { token }) });
}

export const utf8 = (text: string): Buffer => Buffer.from(text, 'utf8');

/** Asserts-free helper: the ok lsn or the error code of a response. */
export function outcome(response: DataResponseFrame): string {
  return response.ok ? 'ok' : response.error.code;
}
