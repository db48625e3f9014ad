/**
 * Takes one parsed client request to its shard's primary and back (DESIGN.md §3, §5.1, §5.3):
 * key → shard by the README hash, shard → primary and epoch by the routing table, held in the
 * shard's buffer while it is paused or its primary is fenced, and on MOVED (or STALE_EPOCH,
 * UNKNOWN_SHARD) the routing table is refreshed and the request retried once.
 */
import { performance } from 'node:perf_hooks';
import type { ClientRequest, ClientResponse, DataPortError, ShardRoute } from '../protocol/index.js';
import { GatewayError, failureOf, unavailable } from './errors.js';
import { OP_HANDLERS, type DataSuccess, type OpHandler } from './ops/index.js';
import type { ShardBuffers } from './buffer.js';
import { primaryMoved, type RoutingView } from './routing.js';
import type { UpstreamListener, UpstreamOutcome, UpstreamPool } from './upstream.js';
import type { Logger } from '../common/log.js';

/** Most passes through the route → hold → forward loop for one request (each needs a routing change). */
export const MAX_FORWARD_PASSES = 8;
/** Re-routes after MOVED per request (DESIGN: refresh and retry once). */
export const MAX_MOVED_RETRIES = 1;
/**
 * While a primary cannot be reached, its shard's held requests try it again at least this often
 * (sooner when routing changes): a connection that failed for a moment is tried again.
 */
export const LOST_RECHECK_MS = 250;

/** What forwarding needs from the gateway. */
export interface ForwardContext {
  view: RoutingView;
  buffers: ShardBuffers;
  upstream: UpstreamPool;
  /** Asks the broker for the retained routing table again. */
  refreshRouting(): void;
  routingRefreshTimeoutMs: number;
  /** Longest a request waits for a failover when its primary cannot be reached (as in a paused shard's buffer). */
  maxPauseMs: number;
  retryAfterMs: number;
  requestTimeoutMs: number;
  /** Counts each data port error code seen, for `/metrics`. */
  countUpstreamError(code: string): void;
  /** Where a request that failed by a bug is logged. */
  logger: Logger;
}

/** Data port codes that mean "routed by a stale table": refresh and retry once. */
const REROUTE_CODES: ReadonlySet<string> = new Set(['MOVED', 'STALE_EPOCH', 'UNKNOWN_SHARD']);

/** Receives the response of a forwarded request, exactly once. */
export type Respond = (response: ClientResponse) => void;

/**
 * Executes `request` and hands its response to `respond`, once: synchronously when the request is
 * refused at once (no route), else when the data port answers. An operating error becomes its
 * failure response; a bug is logged and answered INTERNAL.
 */
export function forwardRequest(context: ForwardContext, request: ClientRequest, respond: Respond): void {
  new Forwarding(context, request, respond).start();
}

/**
 * One request's way through route → hold → send, at most {@link MAX_FORWARD_PASSES} times. It is a
 * small state machine driven by callbacks rather than an async function: the common case (routed,
 * sent, answered) then costs one object and no promise, closure or microtask hop per request.
 */
class Forwarding implements UpstreamListener {
  private readonly handler: OpHandler;
  private shard = -1;
  private passes = 0;
  private reroutes = 0;
  /** The routing version the request was last sent under, and the primary and epoch it went to. */
  private sentAtVersion = -1;
  private sentTo: { primary: string; epoch: number } | null = null;
  /** Whether the request has waited in its shard's buffer before (the buffer counts each request once). */
  private heldBefore = false;
  /** When the request first found its primary unreachable (`performance.now()` ms), or -1. */
  private lostSinceMs = -1;

  constructor(
    private readonly context: ForwardContext,
    private readonly request: ClientRequest,
    private readonly respond: Respond,
  ) {
    this.handler = OP_HANDLERS[request.op];
  }

  start(): void {
    const shard = this.context.view.shardOf(this.request.key);
    if (shard === undefined) return this.respond(failureOf(this.request.id, unavailable('the gateway has no routing table yet', this.context.retryAfterMs)));
    this.shard = shard;
    this.pass();
  }

  /** The data port's answer (or its absence); see {@link settle}. */
  onUpstreamOutcome(outcome: UpstreamOutcome): void {
    let next: ClientResponse | 'again' | 'waiting';
    try {
      next = this.afterOutcome(outcome);
    } catch (error) {
      next = this.failureFor(error);
    }
    if (next === 'again') this.pass();
    else if (next !== 'waiting') this.respond(next);
  }

  /** One pass: route, then hold (the shard is switching) or send. */
  private pass(): void {
    let failure: ClientResponse | undefined;
    try {
      this.routeAndSend();
    } catch (error) {
      failure = this.failureFor(error);
    }
    if (failure !== undefined) this.respond(failure);
  }

  private routeAndSend(): void {
    const { view, buffers, retryAfterMs } = this.context;
    const shard = this.shard;
    if (this.passes++ >= MAX_FORWARD_PASSES) throw unavailable(`shard ${shard} changed routing too often for one request`, retryAfterMs);
    const route = usableRoute(view.route(shard), shard, retryAfterMs);
    if (route.writes === 'paused' || buffers.holding(shard)) {
      // Released requests resume in the order they were held (the buffer resolves them in order).
      // A recheck of a lost primary is not a routing change: it does not use up one of the passes.
      const again = this.heldBefore;
      this.heldBefore = true;
      buffers.hold(shard, heldBytesOf(this.request), again).then((release) => {
        if (release === 'recheck') this.passes--;
        this.pass();
      }, (error: unknown) => this.respond(this.failureFor(error)));
      return;
    }
    // Nothing may wait between reading the route and sending: released requests keep their order.
    this.sentAtVersion = view.version;
    this.sentTo = { primary: route.primary!, epoch: route.epoch };
    const url = route.dataUrls[route.primary!]!;
    this.context.upstream.request(url, this.handler.toDataRequest(this.request, shard, route.epoch), this);
  }

  /**
   * After `outcome`: the response to send, `again` for another pass now (the primary is fenced, so
   * the next pass holds the request), or `waiting` for a newer routing table (MOVED).
   */
  private afterOutcome(outcome: UpstreamOutcome): ClientResponse | 'again' | 'waiting' {
    if ((outcome.kind === 'timeout' || outcome.kind === 'lost') && this.failedOverSinceSent()) {
      // The primary it went to hung or died, and a failover has since promoted another replica.
      // A failover fences every shadow before it promotes, so the old primary can no longer
      // acknowledge this request: it either reached a shadow before the fence, and is in the new
      // primary's log, or it is nowhere. get, put and del are idempotent, so sending it again to
      // the new primary is safe (docs/gateway.md: at-least-once for a write caught this way).
      this.context.countUpstreamError(outcome.kind === 'timeout' ? 'TIMEOUT_RESENT' : 'LOST_RESENT');
      return 'again';
    }
    if (outcome.kind === 'lost' && this.holdForFailover()) return 'again';
    const answer = settle(this.context, outcome);
    if (answer === 'fenced') {
      this.context.buffers.fence(this.shard, this.sentAtVersion);
      return 'again';
    }
    if (answer !== 'reroute') return this.handler.toSuccess(this.request, this.shard, answer);
    if (this.reroutes >= MAX_MOVED_RETRIES) throw unavailable(`shard ${this.shard} moved again while the gateway re-routed`, this.context.retryAfterMs);
    this.reroutes++;
    this.context.refreshRouting();
    // waitForNewer never rejects: after its timeout the next pass routes by whatever table is held.
    void this.context.view.waitForNewer(this.sentAtVersion, this.context.routingRefreshTimeoutMs).then(() => this.pass());
    return 'waiting';
  }

  /**
   * The primary's connection is lost (it died, or the link failed) and routing still names it. The
   * coordinator will fail the shard over once the node's will arrives or its heartbeats stop, so
   * the shard is held in its buffer ({@link ShardBuffers.suspend}), with this request and every
   * later one for it, within the buffer's bounds, and this request waits up to `maxPauseMs` from its
   * first loss, like a request in a paused shard's buffer. A newer route sends the held requests to
   * the new primary (the resend is safe for the reason given above); every {@link LOST_RECHECK_MS}
   * without one, they try the same primary again. False once the wait is used up: the loss is answered.
   */
  private holdForFailover(): boolean {
    const nowMs = performance.now();
    if (this.lostSinceMs < 0) {
      this.lostSinceMs = nowMs;
      this.context.countUpstreamError('LOST_HELD');
    }
    if (nowMs - this.lostSinceMs >= this.context.maxPauseMs) return false;
    this.context.buffers.suspend(this.shard, this.sentAtVersion, Math.min(LOST_RECHECK_MS, this.context.maxPauseMs));
    // A wait for the primary, not a routing change: the pass that holds the request does not count.
    this.passes--;
    return true;
  }

  /** True when the table now names another primary, at a newer epoch, than the one it was sent to. */
  private failedOverSinceSent(): boolean {
    return this.sentTo !== null && primaryMoved(this.sentTo, this.context.view.route(this.shard));
  }

  /** An operating error's failure response, or INTERNAL (logged) for anything else, which is a bug. */
  private failureFor(error: unknown): ClientResponse {
    if (error instanceof GatewayError) return failureOf(this.request.id, error);
    this.context.logger.error('request failed unexpectedly', { op: this.request.op, error: (error as Error).message });
    return failureOf(this.request.id, new GatewayError('INTERNAL', 'the gateway failed to handle the request'));
  }
}

/** The key and value bytes a request holds in a shard's buffer. */
function heldBytesOf(request: ClientRequest): number {
  return request.key.byteLength + (request.value?.byteLength ?? 0);
}

/** The route when it can serve; UNAVAILABLE when the table has no primary for the shard. */
function usableRoute(route: ShardRoute | undefined, shard: number, retryAfterMs: number): ShardRoute {
  if (route === undefined) throw unavailable(`shard ${shard} is not in the routing table`, retryAfterMs);
  if (route.writes === 'unavailable' || route.primary === null) throw unavailable(`shard ${shard} has no primary that can serve`, retryAfterMs);
  if (route.dataUrls[route.primary] === undefined) throw new GatewayError('INTERNAL', `routing names no data port for ${route.primary}`);
  return route;
}

/** A success's data, or what to do instead: hold the shard (`fenced`) or re-route (`reroute`). */
type Settled = DataSuccess | 'fenced' | 'reroute';

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
      if (frame.ok) return frame;
      context.countUpstreamError(frame.error.code);
      if (frame.error.code === 'FENCED') return 'fenced';
      if (REROUTE_CODES.has(frame.error.code)) return 'reroute';
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
