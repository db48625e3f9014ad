// Child process of crash.test.ts: writes to a primary replica as fast as it can and prints one
// line per acknowledged write, `ack <lsn> <key>`, only after the write's promise resolved (that
// is, after it is durable under the chosen fsync policy). The parent kills it with SIGKILL.
// Usage: node build/test/store/crash-writer.js <data-dir> <always|batch> <run-label> <value-bytes-max>
import { Replica, type FsyncPolicy } from '../../src/store/index.js';
import { crashValue } from './crash-value.js';

const [dataDir, policy, label, valueBytesMaxText] = process.argv.slice(2);
const IN_FLIGHT = 64;

const replica = await Replica.open({
  dataDir: dataDir!,
  shard: 0,
  fsyncPolicy: policy as FsyncPolicy,
  batchMs: 2,
  segmentMaxBytes: 256 * 1024,
  snapshotEveryRecords: 3000,
  logger: () => {},
});
process.stdout.write(`open ${replica.appliedLsn}\n`);
let counter = 0;

async function writer(): Promise<void> {
  for (;;) {
    const key = `${label}-${counter++}`;
    const { lsn } = await replica.put(Buffer.from(key), crashValue(key, Number(valueBytesMaxText)));
    process.stdout.write(`ack ${lsn} ${key}\n`);
  }
}

await Promise.all(Array.from({ length: IN_FLIGHT }, () => writer()));
