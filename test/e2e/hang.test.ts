// Proves an unplanned failover keeps the promise when an agent hangs (issue 8, scenario 3):
// under a 400 ops/s client workload through a real gateway, SIGSTOP of the agent process that holds
// the most primaries; writes on every one of its shards resume within 3 s of the SIGSTOP, every read
// returns the last acknowledged value, and every acknowledged write reads back. It prints the
// failover time and the pause clients saw. A stopped process keeps its sockets open, so the broker
// publishes its will only 1.5 x its MQTT keep-alive later (Mosquitto 2.0 took ~5 s even with a 1 s
// keep-alive), so the coordinator does not wait for it: after --heartbeat-timeout-ms of silence
// (1.5 s here) it fences the shadows and promotes the one with the most recent log (docs/e2e.md,
// "Tuning"). Real processes (node-failure.ts), on the embedded broker and on Mosquitto.
import { reachable } from './helpers.js';
import { nodeFailureScenario } from './node-failure.js';

const mosquittoReachable = await reachable('127.0.0.1', 1883);
if (!mosquittoReachable) console.log('hang: Mosquitto is not reachable at 127.0.0.1:1883, its run is skipped');

nodeFailureScenario('hang', 'embedded', false);
nodeFailureScenario('hang', 'mosquitto', mosquittoReachable ? false : 'mosquitto not reachable at 127.0.0.1:1883');
