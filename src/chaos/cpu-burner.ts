/**
 * `cpu-burn`: worker threads that spin on integer arithmetic, so the host's CPU utilisation (read
 * from /proc/stat by the agent's own collector) really rises. Bounded twice: by the worker count
 * limit, and in time, since every worker stops at its deadline by itself and a timer terminates
 * whatever is left, so a burn outlives neither its duration nor the agent.
 */
import { Worker } from 'node:worker_threads';

/** What the controller needs from a CPU burner; tests inject one that only counts. */
export interface CpuBurner {
  /** Workers spinning now. */
  readonly running: number;
  /** Stops any burn in progress, then starts `workers` threads that spin for `durationMs`. */
  start(workers: number, durationMs: number): Promise<void>;
  /** Stops every worker; resolves once they have exited. */
  stop(): Promise<void>;
}

/**
 * The worker's whole program (CommonJS, run with `eval`). It checks the deadline between chunks of
 * arithmetic, so it spins at full speed yet ends on time even if nobody terminates it.
 */
const SPIN_SOURCE = `
const { workerData } = require('node:worker_threads');
let x = 1;
while (Date.now() < workerData.deadlineMs) {
  for (let i = 0; i < 1e6; i++) x = (Math.imul(x, 1103515245) + 12345) >>> 0;
}
`;

/** The real burner: one `worker_threads` Worker per requested thread. */
export class WorkerCpuBurner implements CpuBurner {
  private workers = new Set<Worker>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly onError: (error: Error) => void = () => {}) {}

  get running(): number {
    return this.workers.size;
  }

  async start(workers: number, durationMs: number): Promise<void> {
    await this.stop();
    const deadlineMs = Date.now() + durationMs;
    for (let index = 0; index < workers; index++) {
      const worker = new Worker(SPIN_SOURCE, { eval: true, workerData: { deadlineMs } });
      // A burn must never keep a stopping agent alive.
      worker.unref();
      worker.once('error', (error) => this.onError(error));
      worker.once('exit', () => this.workers.delete(worker));
      this.workers.add(worker);
    }
    this.timer = setTimeout(() => void this.stop(), durationMs + 100);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    const stopping = [...this.workers].map((worker) => worker.terminate());
    this.workers.clear();
    await Promise.allSettled(stopping);
  }
}
