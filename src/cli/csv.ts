/**
 * Streaming CSV for `foreshard detect` and `foreshard eval`: a reader of `timestamp,value` rows that
 * names the file and line of every bad row, and a writer that writes to a temporary file and renames
 * it into place only on success, so a half-written output never looks complete.
 *
 * The format is plain comma-separated text with a header row, as NAB writes it: no quoting, no
 * embedded commas. Blank lines are skipped. Memory stays bounded whatever the file length: the
 * reader holds one line at a time and the writer one chunk.
 */
import assert from 'node:assert/strict';
import { createReadStream, createWriteStream, promises as fs, type WriteStream } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { OperatingError } from './command.js';

/** Longest line the reader accepts; a longer one is not a `timestamp,value` row. */
export const maxLineBytes = 64 * 1024;
/** Bytes the writer gathers before handing a chunk to the file stream. */
export const writeChunkBytes = 64 * 1024;

/** Stable codes of CSV operating errors. */
export type CsvErrorCode =
  | 'CSV_UNREADABLE'
  | 'CSV_EMPTY'
  | 'CSV_MISSING_COLUMN'
  | 'CSV_BAD_VALUE'
  | 'CSV_FIELD_COUNT'
  | 'CSV_LINE_TOO_LONG'
  | 'CSV_WRITE_FAILED';

/** A bad CSV input or a failed write, naming the file and (where it applies) the 1-based line. */
export class CsvError extends OperatingError {
  constructor(
    code: CsvErrorCode,
    readonly file: string,
    readonly line: number | undefined,
    detail: string,
  ) {
    super(code, `${file}${line === undefined ? '' : `:${line}`}: ${detail}`);
    this.name = 'CsvError';
  }
}

/** One data row: its timestamp and value as written, the parsed value, and where it came from. */
export interface CsvRow {
  timestamp: string;
  valueText: string;
  value: number;
  /** 1-based line number in the file. */
  line: number;
}

/** Progress of a read, for a progress line. */
export interface ReadProgress {
  bytesRead: number;
  rows: number;
}

/**
 * Reads the data rows of a `timestamp,value` CSV in order. The header must name both columns (in
 * any order; other columns are allowed and ignored); each row must have as many fields as the header
 * and a finite number in `value`.
 */
export async function* readSeriesCsv(path: string, progress?: ReadProgress): AsyncGenerator<CsvRow> {
  const stream = createReadStream(path);
  const opened = new Promise<void>((resolve, reject) => {
    stream.once('open', () => resolve());
    stream.once('error', reject);
  });
  try {
    await opened;
  } catch (error) {
    throw new CsvError('CSV_UNREADABLE', path, undefined, `cannot read: ${(error as Error).message}`);
  }
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let header: { timestampIndex: number; valueIndex: number; fieldCount: number } | undefined;
  let lineNumber = 0;
  let rows = 0;
  try {
    for await (const line of lines) {
      lineNumber++;
      if (line.length > maxLineBytes) throw new CsvError('CSV_LINE_TOO_LONG', path, lineNumber, `line longer than ${maxLineBytes} bytes`);
      if (line.trim() === '') continue;
      if (header === undefined) {
        header = parseHeader(path, lineNumber, line);
        continue;
      }
      const row = parseRow(path, lineNumber, line, header);
      rows++;
      if (progress) {
        progress.bytesRead = stream.bytesRead;
        progress.rows = rows;
      }
      yield row;
    }
  } catch (error) {
    if (error instanceof CsvError) throw error;
    throw new CsvError('CSV_UNREADABLE', path, lineNumber || undefined, `read failed: ${(error as Error).message}`);
  } finally {
    lines.close();
    stream.destroy();
  }
  if (header === undefined) throw new CsvError('CSV_EMPTY', path, undefined, 'the file is empty (expected a header `timestamp,value` and rows)');
  if (rows === 0) throw new CsvError('CSV_EMPTY', path, undefined, 'the file has a header but no data rows');
}

function parseHeader(path: string, line: number, text: string): { timestampIndex: number; valueIndex: number; fieldCount: number } {
  const names = text.split(',').map((name) => name.trim().replace(/^\uFEFF/, '').toLowerCase());
  const timestampIndex = names.indexOf('timestamp');
  const valueIndex = names.indexOf('value');
  for (const [name, index] of [['timestamp', timestampIndex], ['value', valueIndex]] as const) {
    if (index < 0) throw new CsvError('CSV_MISSING_COLUMN', path, line, `the header has no \`${name}\` column (found: ${names.join(', ')})`);
  }
  return { timestampIndex, valueIndex, fieldCount: names.length };
}

function parseRow(path: string, line: number, text: string, header: { timestampIndex: number; valueIndex: number; fieldCount: number }): CsvRow {
  const fields = text.split(',');
  if (fields.length !== header.fieldCount) {
    throw new CsvError('CSV_FIELD_COUNT', path, line, `expected ${header.fieldCount} fields, found ${fields.length}`);
  }
  const timestamp = fields[header.timestampIndex]!.trim();
  const valueText = fields[header.valueIndex]!.trim();
  const value = valueText === '' ? NaN : Number(valueText);
  if (!Number.isFinite(value)) throw new CsvError('CSV_BAD_VALUE', path, line, `value ${JSON.stringify(valueText)} is not a finite number`);
  return { timestamp, valueText, value, line };
}

/**
 * Writes an output CSV through a temporary file next to it. `commit()` flushes and renames it into
 * place; `abort()` (on any error) removes the temporary file. Writes respect the stream's
 * backpressure: `write` resolves only once the stream can take more.
 */
export class AtomicCsvWriter {
  private readonly stream: WriteStream;
  private readonly tempPath: string;
  private chunk = '';
  private failure: Error | undefined;
  private finished = false;

  constructor(
    readonly path: string,
    header: string,
  ) {
    this.tempPath = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
    this.stream = createWriteStream(this.tempPath, { flags: 'wx' });
    this.stream.on('error', (error) => {
      this.failure = error;
    });
    this.chunk = header + '\n';
  }

  /** Resolves once the temporary file is open, or fails with `CSV_WRITE_FAILED` (e.g. no such directory). */
  async opened(): Promise<void> {
    if (this.stream.pending) {
      await new Promise<void>((resolve) => {
        this.stream.once('ready', () => resolve());
        this.stream.once('error', () => resolve());
      });
    }
    this.throwIfFailed();
  }

  /** Appends one line (without its newline). */
  async writeLine(line: string): Promise<void> {
    assert.ok(!this.finished, 'write after commit or abort');
    this.chunk += line + '\n';
    if (this.chunk.length >= writeChunkBytes) await this.flush();
  }

  private async flush(): Promise<void> {
    this.throwIfFailed();
    const text = this.chunk;
    this.chunk = '';
    if (!this.stream.write(text)) {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error) => reject(error);
        this.stream.once('drain', () => {
          this.stream.off('error', onError);
          resolve();
        });
        this.stream.once('error', onError);
      }).catch((error: Error) => {
        throw new CsvError('CSV_WRITE_FAILED', this.path, undefined, `write failed: ${error.message}`);
      });
    }
  }

  private throwIfFailed(): void {
    if (this.failure) throw new CsvError('CSV_WRITE_FAILED', this.path, undefined, `write failed: ${this.failure.message}`);
  }

  /** Flushes everything, closes the file and renames it to `path`. */
  async commit(): Promise<void> {
    await this.flush();
    this.finished = true;
    await new Promise<void>((resolve, reject) => {
      this.stream.once('error', reject);
      this.stream.end(() => resolve());
    }).catch((error: Error) => {
      throw new CsvError('CSV_WRITE_FAILED', this.path, undefined, `write failed: ${error.message}`);
    });
    this.throwIfFailed();
    try {
      await fs.rename(this.tempPath, this.path);
    } catch (error) {
      throw new CsvError('CSV_WRITE_FAILED', this.path, undefined, `cannot move the output into place: ${(error as Error).message}`);
    }
  }

  /** Drops the temporary file; safe to call more than once and after a failed commit. */
  async abort(): Promise<void> {
    this.finished = true;
    this.stream.destroy();
    await fs.rm(this.tempPath, { force: true });
  }
}
