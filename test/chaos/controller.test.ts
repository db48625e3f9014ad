// Proves the chaos controller's arithmetic and bookkeeping under a simulated clock and a seeded
// random source: the disk-latency ramp at its start, middle, end and after (where it holds), the
// error-rate sampling (0 never fails, 1 always does, p fails about p of the time for a fixed seed),
// faults that end by themselves, `clear`, the state `/metrics` shows, the CPU burner's lifecycle
// (with a counting burner), and how MQTT `chaos` command arguments map onto faults. No real time
// passes and no process is signalled: the self-signals are recorded instead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyChaosCommand, ChaosController, chaosFamilies, parseAgentFault, rampDelayMs, seededRandom, type CpuBurner, type SelfSignals } from '../../src/chaos/index.js';

const SEED = Number(process.env.FORESHARD_TEST_SEED ?? 0x5eed);

/** A clock the test moves by hand. */
function manualClock(startMs = 1_000_000): { now: () => number; advance(ms: number): void } {
  let nowMs = startMs;
  return { now: () => nowMs, advance: (ms) => (nowMs += ms) };
}

/** A burner that only records what it was asked to run. */
function countingBurner(): CpuBurner & { starts: Array<{ workers: number; durationMs: number }>; stops: number } {
  let running = 0;
  const burner = {
    starts: [] as Array<{ workers: number; durationMs: number }>,
    stops: 0,
    get running() {
      return running;
    },
    async start(workers: number, durationMs: number) {
      burner.starts.push({ workers, durationMs });
      running = workers;
    },
    async stop() {
      burner.stops += 1;
      running = 0;
    },
  };
  return burner;
}

test('the ramp starts at from, is linear in between, reaches to at the end and holds after', () => {
  const ramp = { fromMs: 1, toMs: 201, overMs: 60_000 };
  const start = 5_000;
  assert.equal(rampDelayMs(ramp, start, start), 1);
  assert.equal(rampDelayMs(ramp, start, start + 15_000), 51);
  assert.equal(rampDelayMs(ramp, start, start + 30_000), 101);
  assert.equal(rampDelayMs(ramp, start, start + 60_000), 201);
  assert.equal(rampDelayMs(ramp, start, start + 3_600_000), 201);
  assert.equal(rampDelayMs(ramp, start, start - 1_000), 1, 'a clock read before the start is the start');
  assert.equal(rampDelayMs({ fromMs: 50, toMs: 50, overMs: 0 }, start, start), 50, 'a zero-length ramp is a constant');
  assert.equal(rampDelayMs({ fromMs: 200, toMs: 0, overMs: 10_000 }, start, start + 5_000), 100, 'a ramp may go down');
});

test('disk-latency delays every fsync along its ramp from the moment it is applied', async () => {
  const clock = manualClock();
  const chaos = new ChaosController({ clock: clock.now });
  assert.equal(chaos.fsyncDelayMs(clock.now()), 0, 'no fault, no delay');
  await chaos.apply(parseAgentFault({ fault: 'disk-latency', ramp: { fromMs: 1, toMs: 200, overMs: 60_000 } }));
  assert.equal(chaos.fsyncDelayMs(clock.now()), 1);
  clock.advance(30_000);
  assert.equal(chaos.fsyncDelayMs(clock.now()), 100.5);
  clock.advance(30_000);
  assert.equal(chaos.fsyncDelayMs(clock.now()), 200);
  clock.advance(600_000);
  assert.equal(chaos.fsyncDelayMs(clock.now()), 200);
  const state = chaos.state();
  assert.deepEqual(state.active, ['disk-latency']);
  assert.equal(state.diskLatency?.currentMs, 200);
  assert.equal(state.delayedFsyncs, 4);
});

test('error-rate fails no request at 0, every request at 1, and about p of them at p for a fixed seed', async () => {
  const chaos = new ChaosController({ random: seededRandom(SEED) });
  assert.equal(chaos.shouldFailRequest(), false, 'no fault, no failure');
  await chaos.apply(parseAgentFault({ fault: 'error-rate', probability: 0 }));
  assert.ok(Array.from({ length: 1000 }, () => chaos.shouldFailRequest()).every((fail) => !fail), 'p = 0 never fails');
  await chaos.apply(parseAgentFault({ fault: 'error-rate', probability: 1 }));
  assert.ok(Array.from({ length: 1000 }, () => chaos.shouldFailRequest()).every((fail) => fail), 'p = 1 always fails');
  await chaos.apply(parseAgentFault({ fault: 'error-rate', probability: 0.25 }));
  const samples = 20_000;
  const failed = Array.from({ length: samples }, () => chaos.shouldFailRequest()).filter(Boolean).length;
  // Binomial(20000, 0.25) has a standard deviation of about 61: 0.02 is over 6 of them.
  assert.ok(Math.abs(failed / samples - 0.25) < 0.02, `seed ${SEED}: ${failed} of ${samples} failed`);
  assert.equal(chaos.state().failedRequests, 1000 + failed);
});

test('the same seed fails the same requests', async () => {
  const run = async (): Promise<boolean[]> => {
    const chaos = new ChaosController({ random: seededRandom(SEED) });
    await chaos.apply(parseAgentFault({ fault: 'error-rate', probability: 0.5 }));
    return Array.from({ length: 64 }, () => chaos.shouldFailRequest());
  };
  assert.deepEqual(await run(), await run());
});

test('a fault with a duration ends by itself; clear ends every fault and the CPU burn', async () => {
  const clock = manualClock();
  const burner = countingBurner();
  const chaos = new ChaosController({ clock: clock.now, random: () => 0, burner });
  await chaos.apply(parseAgentFault({ fault: 'error-rate', probability: 1, durationMs: 10_000 }));
  await chaos.apply(parseAgentFault({ fault: 'disk-latency', ramp: { fromMs: 5, toMs: 5, overMs: 0 } }));
  await chaos.apply(parseAgentFault({ fault: 'cpu-burn', workers: 3, durationMs: 20_000 }));
  assert.deepEqual(chaos.state().active, ['disk-latency', 'error-rate', 'cpu-burn']);
  assert.equal(chaos.state().cpuBurn?.running, 3);
  clock.advance(10_000);
  assert.equal(chaos.shouldFailRequest(), false, 'the error rate ended after its 10 s');
  assert.deepEqual(chaos.state().active, ['disk-latency', 'cpu-burn']);
  await chaos.apply(parseAgentFault({ fault: 'clear' }));
  assert.deepEqual(chaos.state().active, []);
  assert.equal(chaos.fsyncDelayMs(clock.now()), 0);
  assert.equal(burner.running, 0);
  assert.deepEqual(burner.starts, [{ workers: 3, durationMs: 20_000 }]);
});

test('a new fault of a kind replaces the one before it, restarting its ramp', async () => {
  const clock = manualClock();
  const chaos = new ChaosController({ clock: clock.now });
  await chaos.apply(parseAgentFault({ fault: 'disk-latency', ramp: { fromMs: 0, toMs: 100, overMs: 1000 } }));
  clock.advance(1000);
  await chaos.apply(parseAgentFault({ fault: 'disk-latency', ramp: { fromMs: 10, toMs: 20, overMs: 1000 } }));
  assert.equal(chaos.fsyncDelayMs(clock.now()), 10);
});

test('/metrics families show which faults are active and what they did', async () => {
  const chaos = new ChaosController({ random: () => 0 });
  await chaos.apply(parseAgentFault({ fault: 'error-rate', probability: 0.5 }));
  chaos.shouldFailRequest();
  const families = Object.fromEntries(chaosFamilies(chaos.state()).map((family) => [family.name, family.samples]));
  assert.deepEqual(families.foreshard_chaos_fault_active?.map((s) => [s.labels?.fault, s.value]), [['disk-latency', 0], ['error-rate', 1], ['cpu-burn', 0]]);
  assert.equal(families.foreshard_chaos_request_failure_probability?.[0]?.value, 0.5);
  assert.equal(families.foreshard_chaos_failed_requests_total?.[0]?.value, 1);
});

test('bad fault bodies are refused with the problem named; hang and kill are not bodies', () => {
  assert.throws(() => parseAgentFault({ fault: 'error-rate', probability: 1.5 }), { code: 'CHAOS_BAD_FAULT', message: /probability must be a number from 0 to 1/ });
  assert.throws(() => parseAgentFault({ fault: 'disk-latency', ramp: { fromMs: 1, toMs: 999_999, overMs: 0 } }), { code: 'CHAOS_BAD_FAULT', message: /ramp.toMs/ });
  assert.throws(() => parseAgentFault({ fault: 'cpu-burn', workers: 64 }), { code: 'CHAOS_BAD_FAULT', message: /workers/ });
  assert.throws(() => parseAgentFault({ fault: 'cpu-burn', workers: 1, durationMs: 7_200_000 }), { code: 'CHAOS_BAD_FAULT', message: /durationMs/ });
  assert.throws(() => parseAgentFault({ fault: 'memory' }), { code: 'CHAOS_BAD_FAULT', message: /unknown fault/ });
  assert.throws(() => parseAgentFault('error-rate'), { code: 'CHAOS_BAD_FAULT' });
  assert.throws(() => parseAgentFault({ fault: 'hang' }), { code: 'CHAOS_UNSUPPORTED' });
});

test('MQTT chaos commands map onto faults, end after their duration, and are refused without --allow-chaos', async () => {
  const clock = manualClock();
  const burner = countingBurner();
  const signals: string[] = [];
  const self: SelfSignals = { kill: () => void signals.push('kill'), hang: async (ms) => void signals.push(`hang ${ms}`) };
  const chaos = new ChaosController({ clock: clock.now, burner });
  await assert.rejects(applyChaosCommand(undefined, { fault: 'disk-latency', durationMs: 1000 }, self), { code: 'CHAOS_NOT_ALLOWED' });

  const state = await applyChaosCommand(chaos, { fault: 'store-latency', durationMs: 60_000, intensity: 0.4 }, self);
  assert.deepEqual({ ...state.diskLatency, startedAtMs: 0, untilMs: 0 }, { fromMs: 1, toMs: 400, overMs: 30_000, startedAtMs: 0, untilMs: 0, currentMs: 1 });
  clock.advance(60_000);
  assert.equal(chaos.fsyncDelayMs(clock.now()), 0, 'the command fault ended after durationMs');

  await applyChaosCommand(chaos, { fault: 'disk-errors', durationMs: 0, intensity: 0.3 }, self);
  assert.equal(chaos.state().errorRate?.probability, 0.3);
  assert.equal(chaos.state().errorRate?.untilMs, undefined, 'durationMs 0 lasts until clear');
  await applyChaosCommand(chaos, { fault: 'cpu', durationMs: 5_000, workers: 2 }, self);
  assert.deepEqual(burner.starts.at(-1), { workers: 2, durationMs: 5_000 });
  await applyChaosCommand(chaos, { fault: 'clear', durationMs: 0 }, self);
  assert.deepEqual(chaos.state().active, []);

  await applyChaosCommand(chaos, { fault: 'hang', durationMs: 2_000 }, self);
  await assert.rejects(applyChaosCommand(chaos, { fault: 'hang', durationMs: 0 }, self), { code: 'CHAOS_BAD_FAULT' }, 'a hang nothing would resume is refused');
  await applyChaosCommand(chaos, { fault: 'crash', durationMs: 0 }, self);
  assert.deepEqual(signals, ['hang 2000', 'kill']);
  await assert.rejects(applyChaosCommand(chaos, { fault: 'network-loss', durationMs: 1000 }, self), { code: 'CHAOS_UNSUPPORTED' });
});
