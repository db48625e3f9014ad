/**
 * `foreshard eval <dir> --windows <windows.json>`: runs the detector over every labelled CSV under
 * `dir` and prints the NAB score by the rules in `../shared/data/nab/README.md`, with the threshold
 * it chose and the TP, FP and FN counts per file.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { OperatingError, UsageError, type Command } from '../command.js';
import { readSeriesCsv } from '../csv.js';
import { Detector, type DetectorOptions } from '../../predict/detector.js';
import { defaultFitter } from '../../predict/kernel.js';
import { builtInProfiles, sweepThreshold, WindowMatcher, type NabFile, type NabProfile, type NabResult } from '../../predict/nab.js';
import { detectorOptionSpecs, detectorOptionsFrom } from './detect.js';

/** Largest number of CSV files one evaluation reads. */
export const maxEvalFiles = 10_000;
/** Largest number of rows of one file held (its scores are kept for the threshold sweep). */
export const maxEvalRowsPerFile = 10_000_000;

type Windows = Record<string, [string, string][]>;

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new OperatingError('EVAL_UNREADABLE', `${path}: cannot read the ${what}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new OperatingError('EVAL_BAD_JSON', `${path}: the ${what} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Reads and checks windows.json: `{ "category/file.csv": [[start, end], ...] }`. */
export async function readWindows(path: string): Promise<Windows> {
  const json = await readJson(path, 'windows file');
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new OperatingError('EVAL_BAD_WINDOWS', `${path}: expected an object of file -> windows`);
  for (const [file, windows] of Object.entries(json)) {
    const ok = Array.isArray(windows) && windows.every((w) => Array.isArray(w) && w.length === 2 && w.every((s) => typeof s === 'string'));
    if (!ok) throw new OperatingError('EVAL_BAD_WINDOWS', `${path}: ${file}: expected a list of [start, end] timestamp pairs`);
  }
  return json as Windows;
}

/** The profile's weights: from profiles.json next to windows.json if present, else built in. */
export async function readProfile(windowsPath: string, name: string): Promise<NabProfile> {
  const path = join(dirname(windowsPath), 'profiles.json');
  const json = await readJson(path, 'profiles file').catch((error: OperatingError) => {
    if (error.code === 'EVAL_UNREADABLE') return undefined;
    throw error;
  });
  if (json === undefined) return builtInProfiles[name]!;
  const matrix = (json as Record<string, { CostMatrix?: Record<string, unknown> }>)[name]?.CostMatrix;
  const weight = (key: string): number => {
    const value = matrix?.[key];
    if (typeof value !== 'number' || !Number.isFinite(value)) throw new OperatingError('EVAL_BAD_PROFILE', `${path}: profile ${name} has no numeric CostMatrix.${key}`);
    return value;
  };
  return { tpWeight: weight('tpWeight'), fpWeight: weight('fpWeight'), fnWeight: weight('fnWeight') };
}

/** Every CSV under `dir`, as `/`-separated paths relative to it, sorted. */
async function listCsvFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { recursive: true, withFileTypes: true });
  } catch (error) {
    throw new OperatingError('EVAL_UNREADABLE', `${dir}: cannot list the directory: ${(error as Error).message}`);
  }
  const files = entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.csv'))
    .map((entry) => relative(dir, join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name)).split(sep).join('/'))
    .sort();
  if (files.length > maxEvalFiles) throw new OperatingError('EVAL_TOO_MANY_FILES', `${dir}: ${files.length} CSV files, more than the limit of ${maxEvalFiles}`);
  return files;
}

/** Runs the detector over one file, keeping its scores and mapping its windows to rows. */
async function scoreOneFile(dir: string, key: string, windows: [string, string][], options: DetectorOptions): Promise<NabFile> {
  const path = join(dir, key);
  const detector = new Detector(defaultFitter(), options);
  const matcher = new WindowMatcher(windows);
  let scores = new Float64Array(8192);
  let rows = 0;
  for await (const row of readSeriesCsv(path)) {
    if (rows === maxEvalRowsPerFile) throw new OperatingError('EVAL_FILE_TOO_LONG', `${path}: more than ${maxEvalRowsPerFile} rows`);
    if (rows === scores.length) {
      const grown = new Float64Array(scores.length * 2);
      grown.set(scores);
      scores = grown;
    }
    matcher.see(row.timestamp, rows);
    scores[rows++] = detector.observe(row.value);
  }
  const matched = matcher.result();
  if (matched.missing !== undefined) throw new OperatingError('EVAL_WINDOW_NOT_FOUND', `${path}: window bound ${JSON.stringify(matched.missing)} matches no row`);
  for (let index = 1; index < matched.windows.length; index++) {
    if (matched.windows[index]![0] <= matched.windows[index - 1]![1]) throw new OperatingError('EVAL_BAD_WINDOWS', `${path}: windows overlap`);
  }
  for (const [start, end] of matched.windows) {
    if (end < start) throw new OperatingError('EVAL_BAD_WINDOWS', `${path}: a window ends before it starts`);
  }
  return { name: key, scores: scores.subarray(0, rows), windows: matched.windows };
}

/** Scores every labelled CSV under `dir` and sweeps the threshold for `profile`. */
export async function evaluate(dir: string, windows: Windows, profile: NabProfile, options: DetectorOptions): Promise<{ result: NabResult; skipped: string[] }> {
  const present = await listCsvFiles(dir);
  const missing = Object.keys(windows).filter((key) => !present.includes(key));
  if (missing.length > 0) throw new OperatingError('EVAL_MISSING_FILE', `${join(dir, missing[0]!)}: listed in the windows file but not found${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''}`);
  const labelled = present.filter((key) => windows[key] !== undefined);
  if (labelled.length === 0) throw new OperatingError('EVAL_NO_FILES', `${dir}: no CSV file under it is listed in the windows file`);
  const files: NabFile[] = [];
  for (const [index, key] of labelled.entries()) {
    if (process.stderr.isTTY) process.stderr.write(`\r\x1b[Keval: ${index + 1}/${labelled.length} ${key}`);
    files.push(await scoreOneFile(dir, key, windows[key]!, options));
  }
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  return { result: sweepThreshold(files, profile), skipped: present.filter((key) => windows[key] === undefined) };
}

function formatReport(result: NabResult, profileName: string): string {
  const width = Math.max(4, ...result.files.map((file) => file.name.length));
  const lines = [`${'file'.padEnd(width)}  ${'rows'.padStart(6)}  ${'TP'.padStart(3)}  ${'FP'.padStart(4)}  ${'FN'.padStart(3)}  ${'score'.padStart(7)}`];
  for (const file of result.files) {
    lines.push(
      `${file.name.padEnd(width)}  ${String(file.rows).padStart(6)}  ${String(file.truePositives).padStart(3)}  ${String(file.falsePositives).padStart(4)}  ${String(file.falseNegatives).padStart(3)}  ${file.score.toFixed(3).padStart(7)}`,
    );
  }
  const sum = (pick: (file: NabResult['files'][number]) => number) => result.files.reduce((total, file) => total + pick(file), 0);
  lines.push(
    '',
    `profile ${profileName}: threshold ${result.threshold}`,
    `TP ${sum((f) => f.truePositives)}  FP ${sum((f) => f.falsePositives)}  FN ${sum((f) => f.falseNegatives)}`,
    `raw score ${result.rawScore.toFixed(3)} (null ${result.nullScore}, perfect ${result.perfectScore})`,
    `NAB score ${result.normalizedScore.toFixed(2)}`,
  );
  return lines.join('\n');
}

const profileNames = Object.keys(builtInProfiles);

/** The `foreshard eval` command. */
export const evalCommand: Command = {
  name: 'eval',
  summary: 'score the detector against labelled anomaly windows (NAB rules)',
  usage: '<dir> --windows <windows.json> [--profile standard|reward_low_FP_rate|reward_low_FN_rate] [--json]',
  details: [
    'Runs `detect` over every CSV under <dir> that windows.json lists (keys are paths relative to <dir>),',
    'sweeps one threshold over every distinct score, and prints the normalised NAB score with TP, FP',
    'and FN per file. Profile weights come from profiles.json next to windows.json, else built-in values.',
  ].join('\n'),
  options: {
    windows: { type: 'string', valueName: '<windows.json>', description: 'labelled anomaly windows (required)' },
    profile: { type: 'string', valueName: '<name>', description: `cost profile: ${profileNames.join(', ')}`, default: 'standard' },
    json: { type: 'boolean', description: 'print the result as JSON', default: false },
    ...detectorOptionSpecs,
  },
  async run(positionals, options) {
    if (positionals.length !== 1) throw new UsageError(`expected one directory, got ${positionals.length} arguments`);
    const windowsPath = options.windows;
    if (typeof windowsPath !== 'string' || windowsPath === '') throw new UsageError('--windows <windows.json> is required');
    const profileName = String(options.profile);
    if (!profileNames.includes(profileName)) throw new UsageError(`--profile must be one of ${profileNames.join(', ')}, got ${JSON.stringify(profileName)}`);
    const detectorOptions = detectorOptionsFrom(options);
    const windows = await readWindows(windowsPath);
    const profile = await readProfile(windowsPath, profileName);
    const { result, skipped } = await evaluate(positionals[0]!, windows, profile, detectorOptions);
    if (skipped.length > 0) process.stderr.write(`eval: ${skipped.length} CSV file(s) not in the windows file were skipped, e.g. ${skipped[0]}\n`);
    if (options.json === true) process.stdout.write(JSON.stringify({ profile: profileName, weights: profile, ...result }, null, 2) + '\n');
    else process.stdout.write(formatReport(result, profileName) + '\n');
    return 0;
  },
};
