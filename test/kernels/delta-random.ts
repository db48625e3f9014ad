// Shared by the randomized delta tests: a seeded PRNG whose seed is printed on failure, and
// generators of base → target updates. Not a test file itself (no `.test` in its name).

/** The seed of this run: FORESHARD_TEST_SEED when set (to replay a failure), else a fresh one. */
export function testSeed(): number {
  const fromEnvironment = process.env.FORESHARD_TEST_SEED;
  return fromEnvironment === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(fromEnvironment) >>> 0;
}

/** Runs `body` with a seeded PRNG; on failure, the error names the seed that replays it. */
export function withSeed(name: string, body: (random: Random) => void): void {
  const seed = testSeed();
  try {
    body(new Random(seed));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${name} failed with FORESHARD_TEST_SEED=${seed}: ${message}`, { cause: error });
  }
}

/** mulberry32: small, fast and good enough to generate test inputs. */
export class Random {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let value = this.state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, bound). */
  below(bound: number): number {
    return Math.floor(this.next() * bound);
  }

  /** A length spread over orders of magnitude up to `max`, so small edge cases come up often. */
  length(max: number): number {
    return Math.min(max, Math.floor(Math.exp(this.next() * Math.log(max + 1))) - 1 + this.below(2));
  }

  /** `length` random bytes below `alphabet` (fewer distinct values make repetitive data). */
  bytes(length: number, alphabet = 256): Uint8Array {
    const out = new Uint8Array(length);
    for (let index = 0; index < length; index++) out[index] = this.below(alphabet);
    return out;
  }

  /** One of `items`, uniformly. */
  pick<T>(items: readonly T[]): T {
    return items[this.below(items.length)]!;
  }
}

/** The bytes of `parts`, one after the other, in a new array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** One kind of edit a value goes through between two writes. */
export type Edit = (random: Random, value: Uint8Array) => Uint8Array;

/** The edits by name; tests apply random chains of them. */
export const edits: Record<string, Edit> = {
  flipBytes(random, value) {
    const out = value.slice();
    const flips = 1 + random.below(8);
    for (let flip = 0; flip < flips && out.length > 0; flip++) out[random.below(out.length)] ^= 1 + random.below(255);
    return out;
  },
  insert(random, value) {
    const at = random.below(value.length + 1);
    return concat(value.subarray(0, at), random.bytes(1 + random.length(300)), value.subarray(at));
  },
  delete(random, value) {
    const at = random.below(value.length + 1);
    return concat(value.subarray(0, at), value.subarray(Math.min(value.length, at + 1 + random.length(300))));
  },
  moveBlock(random, value) {
    if (value.length < 2) return value;
    const start = random.below(value.length);
    const end = Math.min(value.length, start + 1 + random.length(2000));
    const rest = concat(value.subarray(0, start), value.subarray(end));
    const at = random.below(rest.length + 1);
    return concat(rest.subarray(0, at), value.subarray(start, end), rest.subarray(at));
  },
  append(random, value) {
    return concat(value, random.bytes(1 + random.length(1000), random.pick([4, 64, 256])));
  },
  truncate(random, value) {
    return value.subarray(0, random.below(value.length + 1));
  },
  fillRun(random, value) {
    const out = value.slice();
    const start = random.below(out.length + 1);
    out.fill(random.pick([0, 0xff, 0x20]), start, Math.min(out.length, start + random.length(500)));
    return out;
  },
  duplicate(random, value) {
    const start = random.below(value.length + 1);
    const block = value.subarray(start, Math.min(value.length, start + random.length(500)));
    return concat(value, block, block);
  },
};

/** A JSON document and a copy with some fields edited, as UTF-8. */
export function jsonUpdate(random: Random): { base: Uint8Array; target: Uint8Array } {
  const items = Array.from({ length: random.length(200) }, (_, index) => ({
    id: index,
    name: `item-${random.below(1e6)}`,
    price: random.below(100000) / 100,
    tags: Array.from({ length: random.below(4) }, () => random.pick(['new', 'sale', 'eu', 'us', 'fragile'])),
    active: random.next() < 0.5,
  }));
  const document = { version: random.below(1000), owner: 'shard-7', items };
  const base = JSON.stringify(document);
  const fieldEdits = 1 + random.below(6);
  for (let edit = 0; edit < fieldEdits && items.length > 0; edit++) {
    const item = random.pick(items);
    if (random.next() < 0.4) item.price = random.below(1e7) / 100;
    else if (random.next() < 0.5) item.name += '-renamed';
    else item.active = !item.active;
  }
  document.version += 1;
  const encoder = new TextEncoder();
  return { base: encoder.encode(base), target: encoder.encode(JSON.stringify(document, null, random.next() < 0.2 ? 2 : undefined)) };
}
