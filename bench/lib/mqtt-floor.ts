/**
 * A peer of `npm run bench -- agent`: the least a process that meets issue 5's MQTT part can be. It
 * starts the way `foreshard agent` starts (the agent's V8 flags set before anything loads, its timed
 * collection, its page-out of start-up code 3 s after start), builds mqtt.js's client the way the agent builds it (`connectClient`, no write cache)
 * and publishes two messages a second, 3 KB and 2 KB, about the size of an agent's metrics and score
 * for 100 series. It samples nothing, stores nothing and forecasts nothing. Run as
 * `node build/bench/lib/mqtt-floor.js <broker-url> <topic-prefix>`; it runs until killed.
 */
import { applyV8Flags, AGENT_V8_FLAGS } from '../../src/cli/v8-flags.js';

applyV8Flags(AGENT_V8_FLAGS);
const { startHeapTrim } = await import('../../src/agent/heap-trim.js');
const { connectClient } = await import('../../src/agent/mqtt-link.js');
const { schedulePageOut } = await import('../../src/agent/page-out.js');

const [url, prefix] = process.argv.slice(2);
if (url === undefined || prefix === undefined) {
  process.stderr.write('usage: mqtt-floor <broker-url> <topic-prefix>\n');
  process.exit(2);
}
startHeapTrim();
schedulePageOut((message, fields) => process.stderr.write(`${message} ${JSON.stringify(fields)}\n`));
const client = connectClient(url, { clientId: `bench-floor-${process.pid}`, writeCache: false, protocolVersion: 4, reconnectPeriod: 1000 });
const metrics = Buffer.alloc(3 * 1024, 1);
const score = Buffer.alloc(2 * 1024, 2);
setInterval(() => {
  if (!client.connected) return;
  client.publish(`${prefix}/metrics`, metrics, { qos: 0 });
  client.publish(`${prefix}/score`, score, { qos: 0 });
}, 1000);
