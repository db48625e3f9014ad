/**
 * What `foreshard switch`, `pause-automation` and `resume-automation` share: find the cluster
 * (`--data-dir` or `--broker`, src/cli/cluster-target.ts), send one signed request on
 * `coordinator/cmd`, print the coordinator's one-line answer, exit 0 or 1.
 */
import { OperatingError, UsageError, type OptionSpec, type ParsedOptions } from '../command.js';
import { numberOption } from '../parse.js';
import { clusterTargetOptions, resolveClusterTarget, withRecordedLogin } from '../cluster-target.js';
import { OperatorRequestError, sendOperatorRequest, defaultOperatorTimeoutMs, type OperatorRequestInput } from '../../coordinator/mqtt-operator.js';
import { coordinatorMqttOptions, mqttFlagOptions } from './coordinator.js';

/** The options of every operator command. */
export const operatorOptions: Record<string, OptionSpec> = {
  ...clusterTargetOptions,
  timeout: { type: 'string', description: 'how long to wait for the coordinator\'s answer', default: String(defaultOperatorTimeoutMs), valueName: '<ms>' },
  ...mqttFlagOptions,
};

/** Sends `input` to the cluster's coordinator; prints its answer; 0 when it accepted, 1 otherwise. */
export async function runOperatorRequest(options: ParsedOptions, input: OperatorRequestInput): Promise<number> {
  const target = resolveClusterTarget(options, true);
  if (!target.clusterKey) throw new UsageError('a cluster key is needed to sign the request (--cluster-key-file)');
  const mqttOptions = coordinatorMqttOptions({ ...withRecordedLogin(options, target.local), broker: target.brokerUrl });
  try {
    const result = await sendOperatorRequest(mqttOptions, target.cluster, target.clusterKey, input, numberOption(options, 'timeout', 100, 600_000));
    if (!result.ok) throw new OperatingError(result.code ?? 'REFUSED', result.message);
    process.stdout.write(`${result.message}${result.incidentId ? ` (incident ${result.incidentId})` : ''}\n`);
    return 0;
  } catch (error) {
    if (error instanceof OperatorRequestError) throw new OperatingError(error.code, error.message);
    throw error;
  }
}
