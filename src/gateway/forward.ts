/**
 * Takes one parsed client request to its shard's primary and back (DESIGN.md §3, §5.1, §5.3):
 * key → shard by the README hash, shard → primary and epoch by the routing table, held in the
 * shard's buffer while it is paused or its primary is fenced, and on MOVED (or STALE_EPOCH,
 * UNKNOWN_SHARD) the routing table is refreshed and the request retried once.
 */
import type { ClientRequest, ClientResponse, DataPortError, ShardRoute } from '../protocol/index.js';
import { GatewayError, failureOf, unavailable } from './errors.js';
import { OP_HANDLERS, type OpHandler } from './ops/index.js';
import type { ShardBuffers } from './buffer.js';
import type { RoutingView } from './routing.js';
import type { UpstreamOutcome, UpstreamPool } from './upstream.js';

/** Most passes through the route → hold → forward loop for one request (each needs a routing change). */
export const MAX_FORWARD_PASSES = 8;
/** Re-routes after MOVED per request (DESIGN: refresh and retry once). */
export const MAX_MOVED_RETRIES = 1;

/** What forwarding needs from the gateway. */
export interface ForwardContext {
  view: RoutingView;
  buffers: ShardBuffers;
  upstream: UpstreamPool;
  /** Asks the broker for the retained routing table again. */
  refreshRouting(): void;
  routingRefreshTimeoutMs: number;
  retryAfterMs: number;
  requestTimeoutMs: number;
  /** Counts each data port error code seen, for `/metrics`. */
  countUpstreamError(code: string): void;
}

/** Data port codes that mean "routed by a stale table": refresh and retry once. */
const REROUTE_CODES: ReadonlySet<string> = new Set(['MOVED', 'STALE_EPOCH', 'UNKNOWN_SHARD']);

/** Executes `request` and returns the response to send; never rejects for operating errors. */
export async function forwardRequest(context: ForwardContext, request: ClientRequest): Promise<ClientResponse> {
  try {
    return await forward(context, request, OP_HANDLERS[request.op]);
  } catch (error) {
    if (error instanceof GatewayError) return failureOf(request.id, error);
    throw error;
  }
}

async function forward(context: ForwardContext, request: ClientRequest, handler: OpHandler): Promise<ClientResponse> {
  const { view, buffers } = context;
  const shard = view.shardOf(request.key);
  if (shard === undefined) throw unavailable('the gateway has no routing table yet', context.retryAfterMs);
  const heldBytes = request.key.byteLength + (request.value?.byteLength ?? 0);
  let reroutes = 0;
  for (let pass = 0; pass < MAX_FORWARD_PASSES; pass++) {
    const route = usableRoute(view.route(shard), shard, context.retryAfterMs);
    if (route.writes === 'paused' || buffers.holding(shard)) {
      await buffers.hold(shard, heldBytes);
      continue;
    }
    // Nothing may await between reading the route and sending: released requests keep their order.
    const version = view.version;
    const url = route.dataUrls[route.primary!]!;
    const outcome = await context.upstream.request(url, handler.toDataRequest(request, shard, route.epoch));
    const answer = settle(context, outcome);
    if (answer.kind === 'ok') return handler.toSuccess(request, shard, answer.data);
    if (answer.kind === 'fenced') {
      buffers.fence(shard, version);
      continue;
    }
    if (reroutes >= MAX_MOVED_RETRIES) throw unavailable(`shard ${shard} moved again while the gateway re-routed`, context.retryAfterMs);
    reroutes++;
    context.refreshRouting();
    await view.waitForNewer(version, context.routingRefreshTimeoutMs);
  }
  throw unavailable(`shard ${shard} changed routing too often for one request`, context.retryAfterMs);
}

/** The route when it can serve; UNAVAILABLE when the table has no primary for the shard. */
function usableRoute(route: ShardRoute | undefined, shard: number, retryAfterMs: number): ShardRoute {
  if (route === undefined) throw unavailable(`shard ${shard} is not in the routing table`, retryAfterMs);
  if (route.writes === 'unavailable' || route.primary === null) throw unavailable(`shard ${shard} has no primary that can serve`, retryAfterMs);
  if (route.dataUrls[route.primary] === undefined) throw new GatewayError('INTERNAL', `routing names no data port for ${route.primary}`);
  return route;
}

type Settled = { kind: 'ok'; data: { epoch: number; lsn?: number; value?: Uint8Array | null } } | { kind: 'fenced' } | { kind: 'reroute' };

/** Turns a data port outcome into a success, a hold, a re-route, or a client error (thrown). */
function settle(context: ForwardContext, outcome: UpstreamOutcome): Settled {
  switch (outcome.kind) {
    case 'timeout':
      context.countUpstreamError('TIMEOUT');
      throw new GatewayError('TIMEOUT', `the agent did not answer within ${context.requestTimeoutMs} ms; a write may or may not have been applied`);
    case 'overloaded':
      context.countUpstreamError('OVERLOADED');
      throw unavailable('too many requests in flight to this agent', context.retryAfterMs);
    case 'lost':
      context.countUpstreamError('LOST');
      throw unavailable(outcome.sent ? `${outcome.message}; a write may or may not have been applied` : outcome.message, context.retryAfterMs);
    case 'response': {
      const frame = outcome.frame;
      if (frame.ok) return { kind: 'ok', data: frame };
      context.countUpstreamError(frame.error.code);
      if (frame.error.code === 'FENCED') return { kind: 'fenced' };
      if (REROUTE_CODES.has(frame.error.code)) return { kind: 'reroute' };
      throw clientErrorOf(frame.error, context.retryAfterMs);
    }
  }
}

/** The client-facing error for a data port refusal that re-routing cannot fix. */
function clientErrorOf(error: DataPortError, retryAfterMs: number): GatewayError {
  switch (error.code) {
    case 'TOO_LARGE':
      return new GatewayError('TOO_LARGE', error.message);
    case 'TIMEOUT':
      return new GatewayError('TIMEOUT', error.message);
    case 'UNAVAILABLE':
      return unavailable(error.message, retryAfterMs);
    default:
      // BAD_REQUEST, UNAUTHORIZED, GAP, INTERNAL: the gateway and the agent disagree; the client cannot fix it.
      return new GatewayError('INTERNAL', `agent refused the request: ${error.code} ${error.message}`);
  }
}
