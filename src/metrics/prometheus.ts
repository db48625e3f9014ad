/**
 * The Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format): a writer for the
 * agent's `/metrics`, and a strict parser for node_exporter scrapes and for tests. The parser refuses
 * what the format forbids rather than guessing: bad escapes, a TYPE after samples, a family split
 * into two groups, a repeated series, a repeated label.
 */
import assert from 'node:assert/strict';
import { MetricsError } from './errors.js';

/** The content type of this format, for the `/metrics` response. */
export const EXPOSITION_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** Largest exposition the parser accepts by default; node_exporter on a large host writes about 1 MiB. */
export const EXPOSITION_BYTES_MAX = 8 * 1024 * 1024;
/** Most samples the parser accepts by default. */
export const EXPOSITION_SAMPLES_MAX = 200_000;
/** Most labels on one sample. */
export const SAMPLE_LABELS_MAX = 64;

/** The metric types of format 0.0.4. */
export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
const metricTypes: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

/** One sample line. `name` may carry a histogram or summary suffix such as `_bucket`. */
export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestampMs?: number;
}

/** A metric family: its HELP, its TYPE and its samples, in exposition order. */
export interface MetricFamily {
  readonly name: string;
  readonly help?: string;
  readonly type: MetricType;
  readonly samples: readonly MetricSample[];
}

/** A sample handed to the writer; `name` defaults to the family's name and `labels` to none. */
export interface MetricSampleInput {
  readonly name?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestampMs?: number;
}

/** A family handed to the writer. */
export interface MetricFamilyInput {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly samples: readonly MetricSampleInput[];
}

const metricNamePattern = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelNamePattern = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** True when `name` is a valid metric name in this format. */
export function isMetricName(name: string): boolean {
  return metricNamePattern.test(name);
}

/** True when `name` is a label name a user may set (names starting with `__` are reserved to Prometheus). */
export function isLabelName(name: string): boolean {
  return labelNamePattern.test(name) && !name.startsWith('__');
}

// ---------------------------------------------------------------------------------------------
// Writer

/**
 * Escapes a HELP docstring: backslash and line feed, as the format requires. Blanks separate tokens
 * in a HELP line, so a docstring's leading blanks do not survive a round trip.
 */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Formats a sample value the way Go's ParseFloat reads it back, including `+Inf`, `-Inf` and `NaN`. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/** Writes families as one exposition text. Names are the caller's code, so a bad one is an assertion. */
export function writeExposition(families: readonly MetricFamilyInput[]): string {
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const family of families) {
    assert.ok(isMetricName(family.name), `invalid metric name ${JSON.stringify(family.name)}`);
    assert.ok(!seen.has(family.name), `metric family ${family.name} written twice`);
    seen.add(family.name);
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    for (const sample of family.samples) lines.push(sampleLine(family, sample));
  }
  return lines.length === 0 ? '' : lines.join('\n') + '\n';
}

function sampleLine(family: MetricFamilyInput, sample: MetricSampleInput): string {
  const name = sample.name ?? family.name;
  const owner = familyNameOf(name, (base) => (base === family.name ? family.type : undefined));
  assert.ok(owner === family.name, `sample ${name} does not belong to family ${family.name}`);
  const labels = Object.entries(sample.labels ?? {});
  assert.ok(labels.length <= SAMPLE_LABELS_MAX, `sample ${name} has more than ${SAMPLE_LABELS_MAX} labels`);
  for (const [label] of labels) assert.ok(isLabelName(label), `invalid label name ${JSON.stringify(label)}`);
  const labelText = labels.length === 0 ? '' : `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
  const timestamp = sample.timestampMs === undefined ? '' : ` ${Math.trunc(sample.timestampMs)}`;
  return `${name}${labelText} ${formatValue(sample.value)}${timestamp}`;
}

/** The family a sample name belongs to: `x_bucket` belongs to histogram `x`, `x_sum` and `x_count` to histogram or summary `x`. */
function familyNameOf(sampleName: string, typeOf: (name: string) => MetricType | undefined): string {
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = sampleName.slice(0, -suffix.length);
    const type = typeOf(base);
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return base;
  }
  return sampleName;
}

// ---------------------------------------------------------------------------------------------
// Parser

/** Limits of {@link parseExposition}. */
export interface ParseLimits {
  readonly bytesMax?: number;
  readonly samplesMax?: number;
}

interface FamilyDraft {
  name: string;
  help?: string;
  type?: MetricType;
  samples: MetricSample[];
  /** True once a different family has started after this one had lines: more lines would split the group. */
  closed: boolean;
}

interface ParserState {
  readonly families: Map<string, FamilyDraft>;
  readonly seriesKeys: Set<string>;
  current: FamilyDraft | undefined;
  sampleCount: number;
  readonly samplesMax: number;
}

/**
 * Parses exposition text strictly. Throws a `MetricsError` with code `EXPOSITION_MALFORMED` naming
 * the line, or `EXPOSITION_TOO_LARGE` past the limits. Families come back in exposition order.
 */
export function parseExposition(text: string, limits: ParseLimits = {}): Map<string, MetricFamily> {
  const bytesMax = limits.bytesMax ?? EXPOSITION_BYTES_MAX;
  if (Buffer.byteLength(text, 'utf8') > bytesMax) {
    throw new MetricsError('EXPOSITION_TOO_LARGE', `exposition is larger than ${bytesMax} bytes`);
  }
  const state: ParserState = {
    families: new Map(),
    seriesKeys: new Set(),
    current: undefined,
    sampleCount: 0,
    samplesMax: limits.samplesMax ?? EXPOSITION_SAMPLES_MAX,
  };
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!;
    try {
      parseLine(state, line);
    } catch (error) {
      if (error instanceof MetricsError && error.code === 'EXPOSITION_MALFORMED') {
        throw new MetricsError(error.code, `line ${index + 1}: ${error.message}`);
      }
      throw error;
    }
  }
  const result = new Map<string, MetricFamily>();
  for (const draft of state.families.values()) {
    const family: MetricFamily = { name: draft.name, type: draft.type ?? 'untyped', samples: Object.freeze(draft.samples) };
    result.set(draft.name, Object.freeze(draft.help === undefined ? family : { ...family, help: draft.help }));
  }
  return result;
}

function bad(message: string): MetricsError {
  return new MetricsError('EXPOSITION_MALFORMED', message);
}

function parseLine(state: ParserState, line: string): void {
  if (line.trim() === '') return;
  if (line.startsWith('#')) return parseComment(state, line);
  const sample = parseSampleLine(line);
  const family = enterFamily(state, familyNameOf(sample.name, (base) => state.families.get(base)?.type));
  checkSampleShape(family, sample);
  const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
  if (state.seriesKeys.has(key)) throw bad(`series ${sample.name} with these labels appears twice`);
  state.seriesKeys.add(key);
  state.sampleCount += 1;
  if (state.sampleCount > state.samplesMax) {
    throw new MetricsError('EXPOSITION_TOO_LARGE', `exposition has more than ${state.samplesMax} samples`);
  }
  family.samples.push(sample);
}

/** Makes `name` the current family, refusing to reopen one that an earlier group already ended. */
function enterFamily(state: ParserState, name: string): FamilyDraft {
  if (state.current?.name === name) return state.current;
  let family = state.families.get(name);
  if (family?.closed) throw bad(`lines of metric ${name} are not in one group`);
  if (state.current) state.current.closed = true;
  if (!family) {
    family = { name, samples: [], closed: false };
    state.families.set(name, family);
  }
  state.current = family;
  return family;
}

function parseComment(state: ParserState, line: string): void {
  const match = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
  if (!match) return; // any other comment is ignored, as the format says
  const [, keyword, name, rest] = match as unknown as [string, 'HELP' | 'TYPE', string, string | undefined];
  if (!isMetricName(name)) throw bad(`invalid metric name ${JSON.stringify(name)} in ${keyword}`);
  const family = enterFamily(state, name);
  if (keyword === 'HELP') {
    if (family.help !== undefined) throw bad(`second HELP line for ${name}`);
    family.help = unescapeHelp(rest ?? '');
    return;
  }
  const type = (rest ?? '').trim();
  if (!metricTypes.has(type)) throw bad(`unknown metric type ${JSON.stringify(type)} for ${name}`);
  if (family.type !== undefined) throw bad(`second TYPE line for ${name}`);
  if (family.samples.length > 0) throw bad(`TYPE line for ${name} comes after its samples`);
  family.type = type as MetricType;
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(.?)/g, (_, next: string) => {
    if (next === '\\') return '\\';
    if (next === 'n') return '\n';
    throw bad(`invalid escape sequence "\\${next}" in HELP`);
  });
}

function checkSampleShape(family: FamilyDraft, sample: MetricSample): void {
  if (family.type === 'histogram' && sample.name.endsWith('_bucket') && sample.labels.le === undefined) {
    throw bad(`histogram bucket ${sample.name} has no "le" label`);
  }
  if (family.type === 'summary' && sample.name === family.name && sample.labels.quantile === undefined) {
    throw bad(`summary sample ${sample.name} has no "quantile" label`);
  }
}

const floatPattern = /^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$/;
const specialFloatPattern = /^(?:([+-]?)(?:inf|infinity)|nan)$/i;

/** Reads a sample value as Go's strconv.ParseFloat does (decimal forms, Inf and NaN in any case). */
export function parseValue(token: string): number {
  if (floatPattern.test(token)) return Number(token);
  const special = specialFloatPattern.exec(token);
  if (!special) throw bad(`invalid sample value ${JSON.stringify(token)}`);
  if (token.toLowerCase() === 'nan') return NaN;
  return special[1] === '-' ? -Infinity : Infinity;
}

/** Parses `name{label="value",...} value [timestamp]`, with the blanks the format allows between tokens. */
function parseSampleLine(line: string): MetricSample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) throw bad(`expected a metric name at the start of ${JSON.stringify(line.slice(0, 40))}`);
  const name = nameMatch[0];
  let position = skipBlanks(line, name.length);
  let labels: Record<string, string> = {};
  if (line[position] === '{') {
    const parsed = parseLabels(line, position + 1);
    labels = parsed.labels;
    position = parsed.end;
  } else if (position === name.length && position < line.length) {
    throw bad(`unexpected ${JSON.stringify(line[position])} after metric name ${name}`);
  }
  const tokens = line.slice(position).trim().split(/[ \t]+/);
  if (tokens.length < 1 || tokens[0] === '' || tokens.length > 2) {
    throw bad(`expected "value [timestamp]" after ${name}, got ${JSON.stringify(line.slice(position).trim())}`);
  }
  const value = parseValue(tokens[0]!);
  if (tokens.length === 1) return Object.freeze({ name, labels: Object.freeze(labels), value });
  if (!/^-?\d+$/.test(tokens[1]!) || !Number.isSafeInteger(Number(tokens[1]))) {
    throw bad(`invalid timestamp ${JSON.stringify(tokens[1])} on ${name}`);
  }
  return Object.freeze({ name, labels: Object.freeze(labels), value, timestampMs: Number(tokens[1]) });
}

function skipBlanks(line: string, position: number): number {
  while (line[position] === ' ' || line[position] === '\t') position += 1;
  return position;
}

/** Parses the label set after `{`, up to and including `}`; a trailing comma is allowed. */
function parseLabels(line: string, start: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let count = 0;
  let position = skipBlanks(line, start);
  while (line[position] !== '}') {
    const nameMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(position));
    if (!nameMatch) throw bad(`expected a label name at column ${position + 1}`);
    const labelName = nameMatch[0];
    if (labelName.startsWith('__')) throw bad(`label name ${labelName} is reserved`);
    if (Object.hasOwn(labels, labelName)) throw bad(`label ${labelName} appears twice`);
    position = skipBlanks(line, position + labelName.length);
    if (line[position] !== '=') throw bad(`expected "=" after label ${labelName}`);
    position = skipBlanks(line, position + 1);
    if (line[position] !== '"') throw bad(`expected a quoted value for label ${labelName}`);
    const { value, end } = readQuoted(line, position + 1);
    labels[labelName] = value;
    count += 1;
    if (count > SAMPLE_LABELS_MAX) throw new MetricsError('EXPOSITION_TOO_LARGE', `a sample has more than ${SAMPLE_LABELS_MAX} labels`);
    position = skipBlanks(line, end);
    if (line[position] === ',') position = skipBlanks(line, position + 1);
    else if (line[position] !== '}') throw bad(`expected "," or "}" after label ${labelName}`);
  }
  return { labels, end: position + 1 };
}

/** Reads a label value after its opening quote, resolving `\\`, `\"` and `\n`; returns the index after the closing quote. */
function readQuoted(line: string, start: number): { value: string; end: number } {
  let value = '';
  for (let position = start; position < line.length; position++) {
    const char = line[position]!;
    if (char === '"') return { value, end: position + 1 };
    if (char !== '\\') {
      value += char;
      continue;
    }
    const next = line[position + 1];
    if (next === '\\' || next === '"') value += next;
    else if (next === 'n') value += '\n';
    else throw bad(`invalid escape sequence "\\${next ?? ''}" in a label value`);
    position += 1;
  }
  throw bad('label value has no closing quote');
}
