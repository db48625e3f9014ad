/**
 * The chaos controller's state as Prometheus families on the agent's `/metrics`, so whoever reads a
 * degraded node's series can also see that the degradation was injected on purpose.
 */
import { METRIC_PREFIX, type MetricFamilyInput } from '../metrics/index.js';
import type { ChaosState } from './controller.js';

const AGENT_FAULTS = ['disk-latency', 'error-rate', 'cpu-burn'] as const;

/** The families of `state`: which faults are active, their current strength and what they did. */
export function chaosFamilies(state: ChaosState): MetricFamilyInput[] {
  const name = (suffix: string): string => `${METRIC_PREFIX}chaos_${suffix}`;
  return [
    { name: name('fault_active'), help: 'Faults injected by foreshard chaos, 1 while active, by fault.', type: 'gauge', samples: AGENT_FAULTS.map((fault) => ({ labels: { fault }, value: state.active.includes(fault) ? 1 : 0 })) },
    { name: name('fsync_delay_ms'), help: 'Delay added to each fsync now by the disk-latency fault, in milliseconds.', type: 'gauge', samples: [{ value: state.diskLatency?.currentMs ?? 0 }] },
    { name: name('request_failure_probability'), help: 'Probability that a data port request fails, set by the error-rate fault.', type: 'gauge', samples: [{ value: state.errorRate?.probability ?? 0 }] },
    { name: name('cpu_burn_threads'), help: 'Busy-loop threads of the cpu-burn fault running now.', type: 'gauge', samples: [{ value: state.cpuBurn?.running ?? 0 }] },
    { name: name('delayed_fsyncs_total'), help: 'fsyncs slowed down by the disk-latency fault since the agent started.', type: 'counter', samples: [{ value: state.delayedFsyncs }] },
    { name: name('failed_requests_total'), help: 'Data port requests failed by the error-rate fault since the agent started.', type: 'counter', samples: [{ value: state.failedRequests }] },
  ];
}
