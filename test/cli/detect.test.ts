// Proves `foreshard detect` and `foreshard eval` as a user runs them (the real binary, on small
// synthetic CSVs in a temporary directory): one scored row per input row in order, clear errors
// naming file and line with exit 1, no output file left behind on failure, and an eval report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const binary = fileURLToPath(new URL('../../../bin/foreshard.js', import.meta.url));

function foreshard(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [binary, ...args], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A 5-minute series of `rows` rows: a smooth daily-ish wave, with a spike at `spikeRow` if given. */
function seriesCsv(rows: number, spikeRow?: number): string {
  const lines = ['timestamp,value'];
  const start = Date.UTC(2014, 0, 1);
  for (let row = 0; row < rows; row++) {
    const stamp = new Date(start + row * 300_000).toISOString().replace('T', ' ').slice(0, 19);
    const value = 50 + 10 * Math.sin(row / 20) + (row % 7) * 0.3 + (row === spikeRow ? 80 : 0);
    lines.push(`${stamp},${value.toFixed(3)}`);
  }
  return lines.join('\n') + '\n';
}

const dir = mkdtempSync(join(tmpdir(), 'foreshard-detect-'));

test('detect writes one scored row per input row, in order, with scores in [0,1]', () => {
  const input = join(dir, 'ok.csv');
  const output = join(dir, 'ok.out.csv');
  writeFileSync(input, seriesCsv(400, 300));
  const run = foreshard('detect', input, '--out', output);
  assert.equal(run.status, 0, run.stderr);
  const inputLines = readFileSync(input, 'utf8').trim().split('\n');
  const outputLines = readFileSync(output, 'utf8').trim().split('\n');
  assert.equal(outputLines[0], 'timestamp,value,anomaly_score');
  assert.equal(outputLines.length, inputLines.length);
  let spikeScore = 0;
  let otherMax = 0;
  for (let line = 1; line < outputLines.length; line++) {
    const [stamp, value, score] = outputLines[line]!.split(',');
    assert.equal(`${stamp},${value}`, inputLines[line]);
    const s = Number(score);
    assert.ok(s >= 0 && s <= 1, `score ${score} on line ${line + 1}`);
    if (line - 1 === 300) spikeScore = s;
    else if (line > 100) otherMax = Math.max(otherMax, s);
  }
  assert.ok(spikeScore > otherMax, `the spike scores highest (${spikeScore} vs ${otherMax})`);
});

const badInputs: [string, string, string, RegExp][] = [
  ['missing-column.csv', 'time,value\n2014-01-01 00:00:00,1\n', 'CSV_MISSING_COLUMN', /missing-column\.csv:1: .*`timestamp`/],
  ['non-numeric.csv', 'timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,abc\n', 'CSV_BAD_VALUE', /non-numeric\.csv:3: value "abc"/],
  ['fields.csv', 'timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,2,3\n', 'CSV_FIELD_COUNT', /fields\.csv:3: expected 2 fields, found 3/],
  ['empty.csv', '', 'CSV_EMPTY', /empty\.csv: the file is empty/],
  ['header-only.csv', 'timestamp,value\n', 'CSV_EMPTY', /header-only\.csv: .*no data rows/],
];

for (const [name, text, code, message] of badInputs) {
  test(`bad input (${code}, ${name}) exits 1 naming the file and line, leaving no output`, () => {
    const input = join(dir, name);
    const output = join(dir, `${name}.out`);
    writeFileSync(input, text);
    const run = foreshard('detect', input, '--out', output);
    assert.equal(run.status, 1);
    assert.match(run.stderr, message);
    assert.equal(existsSync(output), false);
  });
}

test('a bad row deep in a long file leaves neither output nor temporary file', () => {
  const sub = mkdtempSync(join(dir, 'late-'));
  const input = join(sub, 'late.csv');
  writeFileSync(input, seriesCsv(10_000) + '2014-12-01 00:00:00,oops\n');
  const run = foreshard('detect', input, '--out', join(sub, 'late.out.csv'));
  assert.equal(run.status, 1);
  assert.match(run.stderr, /late\.csv:10002: value "oops"/);
  assert.deepEqual(readdirSync(sub), ['late.csv']);
});

test('usage errors exit 2', () => {
  assert.equal(foreshard('detect', join(dir, 'ok.csv')).status, 2);
  assert.equal(foreshard('eval', dir).status, 2);
});

test('eval scores labelled files and reports threshold and TP/FP/FN per file', () => {
  const corpus = mkdtempSync(join(dir, 'corpus-'));
  mkdirSync(join(corpus, 'cat'));
  writeFileSync(join(corpus, 'cat', 'spike.csv'), seriesCsv(1000, 700));
  writeFileSync(join(corpus, 'cat', 'quiet.csv'), seriesCsv(1000));
  const stamp = (row: number) => new Date(Date.UTC(2014, 0, 1) + row * 300_000).toISOString().replace('T', ' ').slice(0, 19) + '.000000';
  const windows = { 'cat/spike.csv': [[stamp(690), stamp(740)]], 'cat/quiet.csv': [] };
  writeFileSync(join(corpus, 'windows.json'), JSON.stringify(windows));
  const run = foreshard('eval', corpus, '--windows', join(corpus, 'windows.json'), '--json');
  assert.equal(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout) as { threshold: number; normalizedScore: number; files: { name: string; truePositives: number; falseNegatives: number }[] };
  assert.ok(Number.isFinite(result.threshold));
  const spike = result.files.find((file) => file.name === 'cat/spike.csv')!;
  assert.equal(spike.truePositives, 1);
  assert.ok(result.normalizedScore > 50, `score ${result.normalizedScore}`);
  const text = foreshard('eval', corpus, '--windows', join(corpus, 'windows.json'), '--profile', 'reward_low_FN_rate');
  assert.equal(text.status, 0, text.stderr);
  assert.match(text.stdout, /profile reward_low_FN_rate: threshold /);
  assert.match(text.stdout, /cat\/spike\.csv\s+1000\s+1\s+\d+\s+0/);
});
