// Proves the Prometheus text format 0.0.4 writer and parser agree with each other and with the
// format: writer output parses back to the same families (escapes included, on random label values
// from a seeded generator), the writer's text has the exact documented shape, and the parser refuses
// each thing the format forbids with a message naming the line.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseExposition, writeExposition, type MetricFamilyInput } from '../../src/metrics/prometheus.js';

const families: MetricFamilyInput[] = [
  {
    name: 'foreshard_disk_await_ms',
    help: 'Mean await, with a backslash \\ and a\nsecond line.',
    type: 'gauge',
    samples: [
      { labels: { device: 'nvme0n1' }, value: 0.25 },
      { labels: { device: 'C:\\disk "two"\nline' }, value: -3.5e-7, timestampMs: 1_732_000_000_123 },
      { labels: { device: 'ünï©ødé {a=b, c}' }, value: NaN },
    ],
  },
  { name: 'foreshard_store_operations_total', help: 'Operations.', type: 'counter', samples: [{ value: 1e21 }] },
  {
    name: 'foreshard_store_latency_ms',
    help: 'Latency histogram.',
    type: 'histogram',
    samples: [
      { name: 'foreshard_store_latency_ms_bucket', labels: { le: '5' }, value: 3 },
      { name: 'foreshard_store_latency_ms_bucket', labels: { le: '+Inf' }, value: 4 },
      { name: 'foreshard_store_latency_ms_sum', value: 17.5 },
      { name: 'foreshard_store_latency_ms_count', value: 4 },
    ],
  },
  {
    name: 'foreshard_fsync_ms',
    help: 'Fsync summary.',
    type: 'summary',
    samples: [
      { labels: { quantile: '0.99' }, value: Infinity },
      { name: 'foreshard_fsync_ms_sum', value: 0 },
      { name: 'foreshard_fsync_ms_count', value: 0 },
    ],
  },
  { name: 'foreshard_empty', help: '', type: 'untyped', samples: [] },
];

function sameValue(a: number, b: number): boolean {
  return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
}

describe('prometheus writer', () => {
  it('writes HELP, TYPE and samples with the format\'s escapes', () => {
    const text = writeExposition([families[0]!]);
    assert.equal(
      text,
      [
        '# HELP foreshard_disk_await_ms Mean await, with a backslash \\\\ and a\\nsecond line.',
        '# TYPE foreshard_disk_await_ms gauge',
        'foreshard_disk_await_ms{device="nvme0n1"} 0.25',
        'foreshard_disk_await_ms{device="C:\\\\disk \\"two\\"\\nline"} -3.5e-7 1732000000123',
        'foreshard_disk_await_ms{device="ünï©ødé {a=b, c}"} NaN',
        '',
      ].join('\n'),
    );
  });

  it('output parses back to the same families, values and labels', () => {
    const parsed = parseExposition(writeExposition(families));
    assert.deepEqual([...parsed.keys()], families.map((f) => f.name));
    for (const family of families) {
      const back = parsed.get(family.name)!;
      assert.equal(back.type, family.type);
      assert.equal(back.help, family.help);
      assert.equal(back.samples.length, family.samples.length);
      family.samples.forEach((sample, index) => {
        const got = back.samples[index]!;
        assert.equal(got.name, sample.name ?? family.name);
        assert.deepEqual(got.labels, sample.labels ?? {});
        assert.ok(sameValue(got.value, sample.value), `${got.name}: ${got.value} != ${sample.value}`);
        assert.equal(got.timestampMs, sample.timestampMs);
      });
    }
  });

  it('round-trips random label values and help texts full of characters that need escaping', () => {
    const seed = Number(process.env.FORESHARD_SEED ?? Date.now() % 1_000_000);
    let state = seed;
    const random = (): number => ((state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const alphabet = ['\\', '"', '\n', '{', '}', ',', '=', ' ', '#', 'a', 'Z', '0', 'é', '😀', '\\n', '\t'];
    const pick = (length: number): string => Array.from({ length }, () => alphabet[Math.floor(random() * alphabet.length)]).join('');
    for (let round = 0; round < 200; round++) {
      const labels = { a: pick(Math.floor(random() * 12)), b: pick(3) };
      const help = pick(Math.floor(random() * 20));
      const text = writeExposition([{ name: 'x', help, type: 'gauge', samples: [{ labels, value: random() }] }]);
      const back = parseExposition(text).get('x')!;
      assert.deepEqual(back.samples[0]!.labels, labels, `seed ${seed}, round ${round}: ${JSON.stringify(text)}`);
      // Blanks separate tokens in a HELP line, so the format cannot carry a docstring's leading blanks.
      assert.equal(back.help, help.replace(/^[ \t]+/, ''), `seed ${seed}, round ${round}`);
    }
  });

  it('treats bad metric or label names as programmer errors', () => {
    assert.throws(() => writeExposition([{ name: 'bad-name', help: '', type: 'gauge', samples: [] }]), { code: 'ERR_ASSERTION' });
    assert.throws(
      () => writeExposition([{ name: 'x', help: '', type: 'gauge', samples: [{ labels: { __name__: 'y' }, value: 1 }] }]),
      { code: 'ERR_ASSERTION' },
    );
    assert.throws(() => writeExposition([{ name: 'x', help: '', type: 'gauge', samples: [{ name: 'y', value: 1 }] }]), { code: 'ERR_ASSERTION' });
  });
});

describe('prometheus parser', () => {
  it('accepts the blanks, comments, trailing commas and Inf/NaN spellings the format allows', () => {
    const text = [
      '# A free comment, ignored',
      '',
      '# TYPE h histogram',
      'h_bucket { le = "0.5" , } 1',
      'h_bucket{le="+Inf",}\t2\t-5',
      'h_sum 1.5e+0',
      'h_count 2',
      'plain{a="1"}inf',
      'other -Inf',
      'other_nan{x="y"} nan',
    ].join('\n');
    const parsed = parseExposition(text);
    assert.deepEqual(parsed.get('h')!.samples.map((s) => [s.name, s.labels.le, s.value, s.timestampMs]), [
      ['h_bucket', '0.5', 1, undefined],
      ['h_bucket', '+Inf', 2, -5],
      ['h_sum', undefined, 1.5, undefined],
      ['h_count', undefined, 2, undefined],
    ]);
    assert.equal(parsed.get('plain')!.samples[0]!.value, Infinity);
    assert.equal(parsed.get('plain')!.type, 'untyped');
    assert.equal(parsed.get('other')!.samples[0]!.value, -Infinity);
    assert.ok(Number.isNaN(parsed.get('other_nan')!.samples[0]!.value));
  });

  const refused: [string, string, RegExp][] = [
    ['a bad escape in a label value', 'x{a="\\t"} 1', /line 1: invalid escape sequence "\\t"/],
    ['an unterminated label value', 'x{a="open} 1', /no closing quote/],
    ['a bad escape in HELP', '# HELP x a \\q b', /invalid escape/],
    ['a TYPE after samples', 'x 1\n# TYPE x gauge', /line 2: TYPE line for x comes after its samples/],
    ['a second TYPE', '# TYPE x gauge\n# TYPE x counter', /second TYPE/],
    ['a second HELP', '# HELP x a\n# HELP x b', /second HELP/],
    ['an unknown type', '# TYPE x gaige', /unknown metric type "gaige"/],
    ['a repeated series', 'x{a="1",b="2"} 1\nx{b="2",a="1"} 2', /line 2: series x with these labels appears twice/],
    ['a repeated label', 'x{a="1",a="2"} 1', /label a appears twice/],
    ['a family split into two groups', 'x 1\ny 1\nx{a="b"} 2', /line 3: lines of metric x are not in one group/],
    ['a decimal comma', 'x 1,5', /invalid sample value "1,5"/],
    ['a fractional timestamp', 'x 1 1.5', /invalid timestamp/],
    ['a histogram bucket without le', '# TYPE h histogram\nh_bucket 1', /no "le" label/],
    ['a summary sample without quantile', '# TYPE s summary\ns 1', /no "quantile" label/],
    ['a reserved label name', 'x{__name__="y"} 1', /reserved/],
    ['a character after the name', 'x-y 1', /unexpected "-" after metric name x/],
    ['a sample without value', 'x{a="b"}', /expected "value \[timestamp\]"/],
    ['trailing tokens', 'x 1 2 3', /expected "value \[timestamp\]"/],
  ];
  for (const [what, text, message] of refused) {
    it(`refuses ${what}`, () => {
      assert.throws(() => parseExposition(text), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'EXPOSITION_MALFORMED');
        assert.match(error.message, message);
        return true;
      });
    });
  }

  it('enforces its size and sample limits with EXPOSITION_TOO_LARGE', () => {
    const text = Array.from({ length: 10 }, (_, i) => `x{i="${i}"} ${i}`).join('\n');
    assert.throws(() => parseExposition(text, { samplesMax: 9 }), { code: 'EXPOSITION_TOO_LARGE' });
    assert.throws(() => parseExposition(text, { bytesMax: 20 }), { code: 'EXPOSITION_TOO_LARGE' });
    assert.equal(parseExposition(text, { samplesMax: 10 }).get('x')!.samples.length, 10);
  });
});
