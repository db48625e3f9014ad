/**
 * Incident records: one per planned switch, failover, or shard left unavailable (DESIGN §3 step 5).
 * An incident carries its root-cause report: the score history before it, the series that drove the
 * score with their forecasts against their thresholds, each step's timestamps, and the outcome.
 *
 * @module
 */
import assert from 'node:assert/strict';
import type { ScoreContribution, ScoreFeatures } from '../types.js';

/** What kind of event the incident records. */
export type IncidentKind = 'planned-switch' | 'failover' | 'unavailable';

/** How it ended. `open` until then. */
export type IncidentResult = 'open' | 'switched' | 'reopened' | 'adopted' | 'failed-over' | 'unavailable' | 'abandoned';

/** One score of the shard (and its primary's node) before the incident. */
export interface ScorePoint {
  ts: number;
  p: number;
  nodeP: number;
}

/** One step of the switch, with when it happened. */
export interface IncidentStep {
  atMs: number;
  step: string;
  node?: string;
  cmdId?: string;
  detail?: string;
}

/** A series that drove the score: its forecast against its threshold. */
export interface IncidentDriver extends ScoreContribution {
  /** True when the forecast reaches the threshold. */
  forecastBreaches: boolean;
}

/** The outcome, labelled later for the failure history. */
export interface IncidentOutcome {
  result: IncidentResult;
  detail: string;
  /** Whether the old primary's node went down within the horizon; null until known. */
  nodeFailedWithinHorizon: boolean | null;
  /**
   * Whether, within the horizon, the old primary's node went down or reported a series past its SLO
   * threshold: what the shard's rollback score claims to predict, so the label its calibration is
   * fitted on. Null until known.
   */
  breachedWithinHorizon: boolean | null;
}

/** The features of the last scores before an incident (null where the agent sent none). */
export interface IncidentFeatures {
  shard: ScoreFeatures | null;
  node: ScoreFeatures | null;
}

/** An incident, as stored on disk and published on `incident/<id>`. */
export interface Incident {
  id: string;
  kind: IncidentKind;
  shard: number;
  reason: string;
  openedAtMs: number;
  closedAtMs: number | null;
  fromNode: string | null;
  toNode: string | null;
  epochBefore: number;
  epochAfter: number | null;
  timeline: { scores: ScorePoint[]; steps: IncidentStep[]; droppedSteps: number };
  drivers: IncidentDriver[];
  nodeDrivers: IncidentDriver[];
  /** What the shard's and its node's last scores were calibrated from. */
  features: IncidentFeatures;
  outcome: IncidentOutcome;
}

/** Everything an incident starts from. */
export interface IncidentStart {
  id: string;
  kind: IncidentKind;
  shard: number;
  reason: string;
  nowMs: number;
  fromNode: string | null;
  epochBefore: number;
  scores: ScorePoint[];
  shardTop: readonly ScoreContribution[];
  nodeTop: readonly ScoreContribution[];
  features: IncidentFeatures;
}

/** Opens an incident with its score history and drivers. */
export function openIncident(start: IncidentStart): Incident {
  return {
    id: start.id,
    kind: start.kind,
    shard: start.shard,
    reason: start.reason,
    openedAtMs: start.nowMs,
    closedAtMs: null,
    fromNode: start.fromNode,
    toNode: null,
    epochBefore: start.epochBefore,
    epochAfter: null,
    timeline: { scores: [...start.scores], steps: [{ atMs: start.nowMs, step: 'opened', detail: start.reason }], droppedSteps: 0 },
    drivers: start.shardTop.map(toDriver),
    nodeDrivers: start.nodeTop.map(toDriver),
    features: { ...start.features },
    outcome: { result: 'open', detail: '', nodeFailedWithinHorizon: null, breachedWithinHorizon: null },
  };
}

/** Appends a step, keeping at most `maxSteps` (the oldest after the first are dropped and counted). */
export function addStep(incident: Incident, step: IncidentStep, maxSteps: number): void {
  const steps = incident.timeline.steps;
  steps.push(step);
  if (steps.length > maxSteps) {
    steps.splice(1, 1);
    incident.timeline.droppedSteps++;
  }
}

/** Closes an incident with its result. */
export function closeIncident(incident: Incident, nowMs: number, result: IncidentResult, detail: string): void {
  assert.ok(result !== 'open', 'closing needs a result');
  incident.closedAtMs = nowMs;
  incident.outcome.result = result;
  incident.outcome.detail = detail;
  addStep(incident, { atMs: nowMs, step: 'closed', detail: `${result}: ${detail}` }, Number.MAX_SAFE_INTEGER);
}

/** A deep copy, so a published incident never changes under its reader. */
export function copyIncident(incident: Incident): Incident {
  return structuredClone(incident);
}

function toDriver(top: ScoreContribution): IncidentDriver {
  return { ...top, forecastBreaches: top.forecast >= top.threshold };
}
