// Proves an unplanned failover keeps the promise when an agent dies (issue 8, scenario 2):
// under a 400 ops/s client workload through a real gateway, `kill -9` of the agent process that holds
// the most primaries; writes on every one of its shards resume within 3 s of the kill, every read
// returns the last acknowledged value, and every acknowledged write reads back. It prints the
// failover time and the pause clients saw. Real processes (node-failure.ts), on the embedded broker
// and on Mosquitto at 127.0.0.1:1883 when it is reachable.
import { reachable } from './helpers.js';
import { nodeFailureScenario } from './node-failure.js';

const mosquittoReachable = await reachable('127.0.0.1', 1883);
if (!mosquittoReachable) console.log('crash: Mosquitto is not reachable at 127.0.0.1:1883, its run is skipped');

nodeFailureScenario('crash', 'embedded', false);
nodeFailureScenario('crash', 'mosquitto', mosquittoReachable ? false : 'mosquitto not reachable at 127.0.0.1:1883');
