/**
 * The operator's side of `coordinator/cmd` (see src/protocol/operator.ts): sign a request with the
 * cluster key, publish it, and wait for the coordinator's answer with the same `reqId`.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import mqtt from 'mqtt';
import { clusterTopics, decodeOrDrop, encodeMessage, signOperatorRequest, type OperatorRequestBody, type OperatorResult } from '../protocol/index.js';
import type { CoordinatorMqttOptions } from './mqtt-link.js';

/** Default wait for the coordinator's answer. */
export const defaultOperatorTimeoutMs = 10_000;

/** Why no answer came. */
export class OperatorRequestError extends Error {
  constructor(
    readonly code: 'NO_ANSWER' | 'BROKER_UNREACHABLE',
    message: string,
  ) {
    super(message);
    this.name = 'OperatorRequestError';
  }
}

/** A request without the fields this module fills in. */
export type OperatorRequestInput =
  | { type: 'switch'; shard: number; toNode?: string }
  | { type: 'pause-automation' }
  | { type: 'resume-automation' };

/** Sends one signed request and resolves with the coordinator's answer; throws {@link OperatorRequestError}. */
export async function sendOperatorRequest(
  mqttOptions: CoordinatorMqttOptions,
  cluster: string,
  clusterKey: Uint8Array,
  input: OperatorRequestInput,
  timeoutMs = defaultOperatorTimeoutMs,
): Promise<OperatorResult> {
  const topics = clusterTopics(cluster);
  const o = mqttOptions;
  let client: mqtt.MqttClient;
  try {
    client = await mqtt.connectAsync(o.url, {
      protocolVersion: o.protocolVersion, clean: true, reconnectPeriod: 0, connectTimeout: Math.min(timeoutMs, 10_000),
      ...(o.username !== undefined ? { username: o.username } : {}), ...(o.password !== undefined ? { password: o.password } : {}),
      ...(o.ca ? { ca: o.ca } : {}), ...(o.cert ? { cert: o.cert } : {}), ...(o.key ? { key: o.key } : {}),
    });
  } catch (error) {
    throw new OperatorRequestError('BROKER_UNREACHABLE', `cannot reach the broker at ${o.url}: ${(error as Error).message}`);
  }
  try {
    const reqId = `req-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
    const answer = new Promise<OperatorResult>((resolve) => {
      client.on('message', (topic, payload) => {
        if (topic !== topics.coordinatorCmdResult) return;
        const result = decodeOrDrop('operator-result', payload, topic, () => undefined);
        if (result?.reqId === reqId) resolve(result);
      });
    });
    await client.subscribeAsync(topics.coordinatorCmdResult, { qos: 1 });
    const request = signOperatorRequest(clusterKey, cluster, { ...input, reqId, ts: Date.now() } as OperatorRequestBody);
    await client.publishAsync(topics.coordinatorCmd, Buffer.from(encodeMessage('operator-request', request)), { qos: 1 });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new OperatorRequestError('NO_ANSWER', `no answer from a coordinator of cluster ${cluster} within ${timeoutMs} ms (is one running?)`)), timeoutMs);
    });
    return await Promise.race([answer, timeout]).finally(() => clearTimeout(timer));
  } finally {
    await client.endAsync().catch(() => client.end(true));
  }
}
