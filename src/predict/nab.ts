/**
 * The NAB scorer, by the published rules in `../shared/data/nab/README.md`: probation, the scaled
 * sigmoid, the earliest detection per window, false positives weighted by their distance from the
 * previous window, one threshold θ for the whole corpus swept over every distinct score value, and
 * the normalisation against the null and perfect detectors.
 *
 * Everything here works by row index (NAB rows may repeat a timestamp); mapping window timestamps to
 * rows is the caller's job (see `windowRows`).
 */
import assert from 'node:assert/strict';

/** The weights of one NAB cost profile. */
export interface NabProfile {
  tpWeight: number;
  fpWeight: number;
  fnWeight: number;
}

/** NAB's three profiles, as in the README; `profiles.json` next to `windows.json` overrides them. */
export const builtInProfiles: Readonly<Record<string, NabProfile>> = Object.freeze({
  standard: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 1.0 },
  reward_low_FP_rate: { tpWeight: 1.0, fpWeight: 0.22, fnWeight: 1.0 },
  reward_low_FN_rate: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 2.0 },
});

/** An anomaly window as inclusive row indices `[start, end]`. */
export type RowWindow = readonly [start: number, end: number];

/** One scored file: its anomaly scores (one per row) and its windows, sorted and disjoint. */
export interface NabFile {
  name: string;
  scores: ArrayLike<number>;
  windows: readonly RowWindow[];
}

/** The outcome of one file at one threshold. */
export interface NabFileResult {
  name: string;
  rows: number;
  probationRows: number;
  score: number;
  truePositives: number;
  falsePositives: number;
  falseNegatives: number;
}

/** The outcome of the sweep: the best threshold and what it gives, per file and in total. */
export interface NabResult {
  threshold: number;
  rawScore: number;
  nullScore: number;
  perfectScore: number;
  /** `100·(S − S_null)/(S_perfect − S_null)`. */
  normalizedScore: number;
  files: NabFileResult[];
}

/** NAB's probation: the first `min(floor(0.15·n), 750)` rows count for nothing. */
export function probationRows(rowCount: number): number {
  return Math.min(Math.floor(0.15 * rowCount), 750);
}

/** NAB's scaled sigmoid: `2/(1+e^(5y)) − 1` for `y ≤ 3`, and `−1` above 3. */
export function scaledSigmoid(y: number): number {
  if (y > 3) return -1;
  return 2 / (1 + Math.exp(5 * y)) - 1;
}

/** The worth of a detection at row `row` inside window `[start, end]`, were it the earliest there. */
export function truePositiveValue(row: number, window: RowWindow, profile: NabProfile): number {
  const [start, end] = window;
  const width = end - start + 1;
  return (profile.tpWeight * scaledSigmoid(-(end - row + 1) / width)) / scaledSigmoid(-1);
}

/**
 * The worth (≤ 0) of a detection at `row` outside every window: relative to the window that ended
 * last before it, or `−fpWeight` before any window.
 */
export function falsePositiveValue(row: number, previousWindow: RowWindow | undefined, profile: NabProfile): number {
  if (previousWindow === undefined) return -profile.fpWeight;
  const [start, end] = previousWindow;
  // A one-row window has width 1 and would divide by zero; NAB's windows are far wider. Treat its
  // "width − 1" as 1 so the weight still falls over a few rows.
  const span = Math.max(1, end - start);
  return profile.fpWeight * scaledSigmoid((row - end) / span);
}

/**
 * For every row of a file, where it lies: the index of the window containing it, or −1 with the
 * index of the window before it (−1 when none) in `previous`.
 */
function locateRows(rowCount: number, windows: readonly RowWindow[]): { inside: Int32Array; previous: Int32Array } {
  const inside = new Int32Array(rowCount).fill(-1);
  const previous = new Int32Array(rowCount).fill(-1);
  let last = -1;
  let next = 0;
  for (let row = 0; row < rowCount; row++) {
    while (next < windows.length && windows[next]![1] < row) last = next++;
    if (next < windows.length && windows[next]![0] <= row) inside[row] = next;
    else previous[row] = last;
  }
  return { inside, previous };
}

function checkWindows(file: NabFile): void {
  let previousEnd = -1;
  for (const [start, end] of file.windows) {
    assert.ok(Number.isInteger(start) && Number.isInteger(end), `${file.name}: window bounds must be row indices`);
    assert.ok(start > previousEnd && end >= start && end < file.scores.length, `${file.name}: windows must be sorted, disjoint and inside the file`);
    previousEnd = end;
  }
}

/** Scores one file at threshold θ: a row is a detection when `score ≥ θ`. */
export function scoreFile(file: NabFile, threshold: number, profile: NabProfile): NabFileResult {
  checkWindows(file);
  const rowCount = file.scores.length;
  const probation = probationRows(rowCount);
  const { inside, previous } = locateRows(rowCount, file.windows);
  const earliest = new Int32Array(file.windows.length).fill(-1);
  let falsePositiveSum = 0;
  let falsePositives = 0;
  for (let row = probation; row < rowCount; row++) {
    if (!(file.scores[row]! >= threshold)) continue;
    const window = inside[row]!;
    if (window >= 0) {
      if (earliest[window] === -1) earliest[window] = row;
    } else {
      falsePositives++;
      const before = previous[row]!;
      falsePositiveSum += falsePositiveValue(row, before >= 0 ? file.windows[before] : undefined, profile);
    }
  }
  let windowSum = 0;
  let truePositives = 0;
  file.windows.forEach((window, index) => {
    if (earliest[index]! >= 0) {
      truePositives++;
      windowSum += truePositiveValue(earliest[index]!, window, profile);
    } else {
      windowSum -= profile.fnWeight;
    }
  });
  return {
    name: file.name,
    rows: rowCount,
    probationRows: probation,
    score: windowSum + falsePositiveSum,
    truePositives,
    falsePositives,
    falseNegatives: file.windows.length - truePositives,
  };
}

/** A row after probation, as the sweep sees it. */
interface SweepRow {
  score: number;
  /** Global window id when inside a window, else −1. */
  window: number;
  /** Worth as a detection: the TP value if inside a window, else the (negative) FP value. */
  value: number;
}

function collectSweepRows(files: readonly NabFile[], profile: NabProfile): { rows: SweepRow[]; windowCount: number } {
  const rows: SweepRow[] = [];
  let windowBase = 0;
  for (const file of files) {
    checkWindows(file);
    const rowCount = file.scores.length;
    const { inside, previous } = locateRows(rowCount, file.windows);
    for (let row = probationRows(rowCount); row < rowCount; row++) {
      const window = inside[row]!;
      const before = previous[row]!;
      const value =
        window >= 0
          ? truePositiveValue(row, file.windows[window]!, profile)
          : falsePositiveValue(row, before >= 0 ? file.windows[before] : undefined, profile);
      rows.push({ score: file.scores[row]!, window: window >= 0 ? windowBase + window : -1, value });
    }
    windowBase += file.windows.length;
  }
  return { rows, windowCount: windowBase };
}

/**
 * Sweeps θ over every distinct score value (probation rows included, as they are score values too)
 * and returns the θ with the best corpus score, with the per-file breakdown at that θ.
 *
 * Lowering θ adds rows in descending score order. A false positive adds its value; a row inside a
 * window replaces the window's value when it is earlier than the window's earliest detection so far
 * (TP values fall monotonically through a window, so "earliest" and "best" agree). That makes the
 * sweep O(n log n) instead of O(distinct values × n).
 */
export function sweepThreshold(files: readonly NabFile[], profile: NabProfile): NabResult {
  const { rows, windowCount } = collectSweepRows(files, profile);
  const candidates = distinctScores(files);
  assert.ok(candidates.length > 0, 'sweepThreshold needs at least one score');
  rows.sort((a, b) => b.score - a.score);
  // Each window starts as a miss; `windowValue` holds its current worth.
  const windowValue = new Float64Array(windowCount).fill(-profile.fnWeight);
  let total = -profile.fnWeight * windowCount;
  let bestScore = -Infinity;
  let bestThreshold = candidates[0]!;
  let next = 0;
  for (const threshold of candidates) {
    while (next < rows.length && rows[next]!.score >= threshold) {
      const row = rows[next++]!;
      if (row.window < 0) total += row.value;
      else if (row.value > windowValue[row.window]!) {
        total += row.value - windowValue[row.window]!;
        windowValue[row.window] = row.value;
      }
    }
    // Ties go to the higher threshold, i.e. the one with fewer detections.
    if (total > bestScore + 1e-12) {
      bestScore = total;
      bestThreshold = threshold;
    }
  }
  return resultAt(files, bestThreshold, profile, windowCount);
}

/** Scores every file at one fixed θ and normalises the total. */
export function resultAt(files: readonly NabFile[], threshold: number, profile: NabProfile, windowCount?: number): NabResult {
  const windows = windowCount ?? files.reduce((sum, file) => sum + file.windows.length, 0);
  const fileResults = files.map((file) => scoreFile(file, threshold, profile));
  const rawScore = fileResults.reduce((sum, file) => sum + file.score, 0);
  const perfectScore = windows * profile.tpWeight;
  const nullScore = -windows * profile.fnWeight;
  const normalizedScore = perfectScore === nullScore ? 0 : (100 * (rawScore - nullScore)) / (perfectScore - nullScore);
  return { threshold, rawScore, nullScore, perfectScore, normalizedScore, files: fileResults };
}

/** Every distinct score value in the corpus, in descending order. */
function distinctScores(files: readonly NabFile[]): number[] {
  const values = new Set<number>();
  for (const file of files) for (let row = 0; row < file.scores.length; row++) values.add(file.scores[row]!);
  return [...values].sort((a, b) => b - a);
}

/**
 * Maps `[start, end]` window timestamps to inclusive row indices while the rows stream past, without
 * keeping every timestamp. The README promises each bound matches a row once the `.ffffff` fraction
 * is dropped; where a timestamp repeats, the window takes the widest reading (first row of its
 * start, last row of its end).
 */
export class WindowMatcher {
  private readonly first = new Map<string, number>();
  private readonly last = new Map<string, number>();

  constructor(private readonly windows: readonly (readonly [string, string])[]) {
    for (const [start, end] of windows) {
      this.first.set(dropFraction(start), -1);
      this.last.set(dropFraction(end), -1);
    }
  }

  /** Notes that row `row` has timestamp `stamp`. */
  see(stamp: string, row: number): void {
    const key = dropFraction(stamp);
    if (this.first.get(key) === -1) this.first.set(key, row);
    if (this.last.has(key)) this.last.set(key, row);
  }

  /** The windows as rows, sorted; `missing` names the first bound that matched no row. */
  result(): { windows: RowWindow[]; missing?: string } {
    const rows: RowWindow[] = [];
    for (const [start, end] of this.windows) {
      const startRow = this.first.get(dropFraction(start))!;
      const endRow = this.last.get(dropFraction(end))!;
      if (startRow < 0) return { windows: rows, missing: start };
      if (endRow < 0) return { windows: rows, missing: end };
      rows.push([startRow, endRow]);
    }
    rows.sort((a, b) => a[0] - b[0]);
    return { windows: rows };
  }
}

function dropFraction(stamp: string): string {
  return stamp.trim().replace(/\.\d+$/, '');
}
