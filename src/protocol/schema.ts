/**
 * A tiny typed validator combinator library for decoded payloads (no dependency).
 *
 * A {@link Schema} parses an `unknown` decoded value into a typed value or throws. Parsing builds a
 * fresh value: objects keep only the fields their schema names (unknown fields are dropped, so a
 * newer peer may add optional fields without breaking an older one), integers that a generic CBOR
 * decoder returned as `bigint` come back as `number` when they are safe, and every growing thing
 * (string, byte string, list, map) is checked against its named limit. {@link validate} turns a
 * failure into a {@link ProtocolError}: `FIELD_TOO_LARGE` when a limit was passed, `SCHEMA` otherwise,
 * with the path of the offending field.
 */
import { isPlainObject } from './cbor.js';
import { ProtocolError } from './errors.js';

/** A validator and normaliser of one decoded value. */
export interface Schema<T> {
  /** A short human description, e.g. `uint <= 65535`, used in error messages and docs. */
  readonly description: string;
  /** Returns the typed value or throws a {@link SchemaIssue}. */
  parse(input: unknown): T;
}

/** A schema for an object field that may be absent. */
export interface OptionalSchema<T> extends Schema<T | undefined> {
  readonly optional: true;
}

/** The type a schema parses to. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

/**
 * One problem found while parsing. Parents prepend their field name or index as the issue travels
 * up, so the happy path builds no path strings at all.
 */
export class SchemaIssue extends Error {
  readonly segments: (string | number)[] = [];
  constructor(
    message: string,
    /** True when a named size limit was passed rather than a type or shape rule. */
    readonly tooLarge = false,
  ) {
    // An issue is an expected outcome (bad input, or the first branch of `either` not matching),
    // thrown on the hot path of every client frame: it carries a path, not a stack, which would
    // cost more to capture than the whole parse.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = stackTraceLimit;
  }

  /** The path as `a.b[3].c`. */
  get path(): string {
    let path = '';
    for (const segment of this.segments) {
      path += typeof segment === 'number' ? `[${segment}]` : path === '' ? segment : `.${segment}`;
    }
    return path;
  }
}

/** Parses `input` with `schema`, turning a failure into a {@link ProtocolError} (`SCHEMA` or `FIELD_TOO_LARGE`). */
export function validate<T>(schema: Schema<T>, input: unknown, what = 'payload'): T {
  try {
    return schema.parse(input);
  } catch (error) {
    if (!(error instanceof SchemaIssue)) throw error;
    throw new ProtocolError(error.tooLarge ? 'FIELD_TOO_LARGE' : 'SCHEMA', `${what}: ${error.message}`, error.path);
  }
}

/** Runs `parse` for a child at `segment`, prepending the segment to any issue's path. */
function within<T>(segment: string | number, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof SchemaIssue) error.segments.unshift(segment);
    throw error;
  }
}

function describeValue(input: unknown): string {
  if (input === null) return 'null';
  if (input instanceof Uint8Array) return 'byte string';
  if (Array.isArray(input)) return 'array';
  return typeof input;
}

function expected(what: string, input: unknown): SchemaIssue {
  return new SchemaIssue(`expected ${what}, got ${describeValue(input)}`);
}

/** Options of {@link string}. */
export interface StringOptions {
  minLength?: number;
  /** Maximum length in UTF-16 code units (for ASCII ids, bytes). Passing it is `FIELD_TOO_LARGE`. */
  maxLength: number;
  pattern?: RegExp;
  /** Names the pattern in error messages, e.g. `node id`. */
  patternName?: string;
}

/** A text string with a length limit and an optional pattern. */
export function string(options: StringOptions): Schema<string> {
  const { minLength = 0, maxLength, pattern, patternName } = options;
  return {
    description: `string <= ${maxLength}${patternName ? ` (${patternName})` : ''}`,
    parse(input) {
      if (typeof input !== 'string') throw expected('string', input);
      if (input.length > maxLength) throw new SchemaIssue(`string longer than ${maxLength}`, true);
      if (input.length < minLength) throw new SchemaIssue(`string shorter than ${minLength}`);
      if (pattern && !pattern.test(input)) throw new SchemaIssue(`not a valid ${patternName ?? 'string'}: ${JSON.stringify(input.slice(0, 80))}`);
      return input;
    },
  };
}

/** Options of {@link integer}. */
export interface IntegerOptions {
  min?: number;
  max?: number;
}

/**
 * A whole number in a range (safe integers only). A `bigint`, as generic decoders return for
 * 8-byte CBOR integers (RFC 8949 §3.1), becomes a `number` when it is safe.
 */
export function integer(options: IntegerOptions = {}): Schema<number> {
  const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = options;
  return {
    description: min === 0 && max === Number.MAX_SAFE_INTEGER ? 'uint' : `integer ${min}..${max}`,
    parse(input) {
      let value = input;
      if (typeof value === 'bigint') {
        if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new SchemaIssue('integer outside the safe range');
        }
        value = Number(value);
      }
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw expected('safe integer', input);
      if (value < min || value > max) throw new SchemaIssue(`integer ${value} outside ${min}..${max}`);
      return value === 0 ? 0 : value; // -0 and 0 are the same integer on the wire.
    },
  };
}

/** A non-negative safe integer (lsn, epoch, id, millisecond timestamp), optionally bounded. */
export function uint(max = Number.MAX_SAFE_INTEGER): Schema<number> {
  return integer({ min: 0, max });
}

/** Options of {@link float}. */
export interface FloatOptions {
  min?: number;
  max?: number;
}

/** A finite number (NaN and infinities are refused), optionally bounded. */
export function float(options: FloatOptions = {}): Schema<number> {
  const { min = -Infinity, max = Infinity } = options;
  return {
    description: Number.isFinite(min) || Number.isFinite(max) ? `number ${min}..${max}` : 'number',
    parse(input) {
      const value = typeof input === 'bigint' ? Number(input) : input;
      if (typeof value !== 'number' || !Number.isFinite(value)) throw expected('finite number', input);
      if (value < min || value > max) throw new SchemaIssue(`number ${value} outside ${min}..${max}`);
      return value;
    },
  };
}

/** `true` or `false`. */
export function boolean(): Schema<boolean> {
  return {
    description: 'boolean',
    parse(input) {
      if (typeof input !== 'boolean') throw expected('boolean', input);
      return input;
    },
  };
}

/** Exactly one of the given string values. */
export function oneOf<const T extends readonly string[]>(values: T): Schema<T[number]> {
  const allowed = new Set<string>(values);
  return {
    description: values.map((v) => JSON.stringify(v)).join(' | '),
    parse(input) {
      if (typeof input !== 'string' || !allowed.has(input)) {
        throw new SchemaIssue(`expected one of ${values.join(', ')}, got ${typeof input === 'string' ? JSON.stringify(input.slice(0, 40)) : describeValue(input)}`);
      }
      return input as T[number];
    },
  };
}

/** Exactly `value`. */
export function literal<const T extends string | number | boolean>(value: T): Schema<T> {
  return {
    description: JSON.stringify(value),
    parse(input) {
      if (input !== value) throw new SchemaIssue(`expected ${JSON.stringify(value)}`);
      return value;
    },
  };
}

/** A byte string (CBOR major type 2) of at most `maxBytes` bytes. */
export function bytes(maxBytes: number): Schema<Uint8Array> {
  return {
    description: `bytes <= ${maxBytes}`,
    parse(input) {
      if (!(input instanceof Uint8Array)) throw expected('byte string', input);
      if (input.byteLength > maxBytes) throw new SchemaIssue(`byte string longer than ${maxBytes} bytes`, true);
      return input;
    },
  };
}

/** `null` or a value of `schema`. */
export function nullable<T>(schema: Schema<T>): Schema<T | null> {
  return {
    description: `${schema.description} | null`,
    parse: (input) => (input === null ? null : schema.parse(input)),
  };
}

/** An object field that may be absent (an explicit CBOR `undefined` counts as absent). */
export function optional<T>(schema: Schema<T>): OptionalSchema<T> {
  return {
    optional: true,
    description: `${schema.description} (optional)`,
    parse: (input) => (input === undefined ? undefined : schema.parse(input)),
  };
}

/**
 * `first` if it parses `input`, else `second`. When both fail, a size issue wins over a type issue,
 * so an oversize byte string is reported as too large, not as "not a string".
 */
export function either<A, B>(first: Schema<A>, second: Schema<B>): Schema<A | B> {
  return {
    description: `${first.description} | ${second.description}`,
    parse(input) {
      try {
        return first.parse(input);
      } catch (firstIssue) {
        if (!(firstIssue instanceof SchemaIssue)) throw firstIssue;
        try {
          return second.parse(input);
        } catch (secondIssue) {
          throw firstIssue.tooLarge && secondIssue instanceof SchemaIssue && !secondIssue.tooLarge ? firstIssue : secondIssue;
        }
      }
    },
  };
}

/** A list of at most `maxLength` items of `item`. */
export function array<T>(item: Schema<T>, maxLength: number): Schema<T[]> {
  return {
    description: `array <= ${maxLength} of ${item.description}`,
    parse(input) {
      if (!Array.isArray(input)) throw expected('array', input);
      if (input.length > maxLength) throw new SchemaIssue(`array longer than ${maxLength}`, true);
      const output = new Array<T>(input.length);
      for (let index = 0; index < input.length; index++) output[index] = within(index, () => item.parse(input[index]));
      return output;
    },
  };
}


/** The field schemas of an {@link object}. */
export type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: S[K] extends OptionalSchema<unknown> ? K : never }[keyof S];
type RequiredKeys<S extends Shape> = Exclude<keyof S, OptionalKeys<S>>;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
/** The type an {@link object} schema parses to: optional schemas give optional fields. */
export type ObjectOf<S extends Shape> = Simplify<
  { [K in RequiredKeys<S>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Exclude<Infer<S[K]>, undefined> }
>;

/** A CBOR map with string keys, parsed field by field. Unknown fields are dropped. */
export function object<S extends Shape>(shape: S): Schema<ObjectOf<S>> & { readonly shape: S } {
  const keys = Object.keys(shape);
  return {
    shape,
    description: `{${keys.join(', ')}}`,
    parse(input) {
      if (!isPlainObject(input)) throw expected('map', input);
      const output: Record<string, unknown> = {};
      for (const key of keys) {
        const value = within(key, () => {
          const raw = Object.hasOwn(input, key) ? input[key] : undefined;
          if (raw === undefined && !(shape[key] as Partial<OptionalSchema<unknown>>).optional) throw new SchemaIssue('missing field');
          return shape[key]!.parse(raw);
        });
        if (value !== undefined) output[key] = value;
      }
      return output as ObjectOf<S>;
    },
  };
}

/** A map from validated string keys to values of one schema, with at most `maxEntries` entries. */
export function record<V>(key: Schema<string>, value: Schema<V>, maxEntries: number): Schema<Record<string, V>> {
  return {
    description: `map <= ${maxEntries} of ${key.description} -> ${value.description}`,
    parse(input) {
      if (!isPlainObject(input)) throw expected('map', input);
      const entries = Object.entries(input);
      if (entries.length > maxEntries) throw new SchemaIssue(`map with more than ${maxEntries} entries`, true);
      // Object.fromEntries defines own properties, so even a key named __proto__ cannot reach the prototype.
      return Object.fromEntries(entries.map(([name, raw]) => within(name, () => [key.parse(name), value.parse(raw)] as const)));
    },
  };
}

/**
 * A tagged union: the string (or boolean) field `tag` picks the variant's object schema, e.g.
 * `variants('type', { fence: object(...), promote: object(...) })` or
 * `variants('ok', { true: success, false: failure })`.
 */
export function variants<K extends string, V extends Record<string, Schema<unknown>>>(
  tag: K,
  cases: V,
): Schema<Infer<V[keyof V]>> {
  const names = Object.keys(cases);
  return {
    description: `one of ${names.map((n) => `${tag}=${n}`).join(', ')}`,
    parse(input) {
      if (!isPlainObject(input)) throw expected('map', input);
      const raw = input[tag];
      // A boolean tag (`ok: true | false`) picks the case named "true" or "false".
      const name = typeof raw === 'boolean' ? String(raw) : raw;
      if (typeof name !== 'string' || !Object.hasOwn(cases, name)) {
        const shown = typeof name === 'string' ? JSON.stringify(name.slice(0, 40)) : describeValue(name);
        const issue = new SchemaIssue(`unknown ${tag} ${shown}; expected one of ${names.join(', ')}`);
        issue.segments.unshift(tag);
        throw issue;
      }
      return cases[name]!.parse(input) as Infer<V[keyof V]>;
    },
  };
}

/**
 * `schema` plus a rule across fields. `check` returns a message when the parsed value breaks the
 * rule (e.g. "a put carries exactly one of value and delta").
 */
export function refine<T>(schema: Schema<T>, check: (value: T) => string | undefined): Schema<T> {
  return {
    description: schema.description,
    parse(input) {
      const value = schema.parse(input);
      const problem = check(value);
      if (problem !== undefined) throw new SchemaIssue(problem);
      return value;
    },
  };
}
