/**
 * Date strings built from a time value's UTC fields, the same as `Date.prototype.toISOString` and
 * `Date.prototype.toUTCString` give for any valid date.
 *
 * Why not call those two: in Node 20, the first call of either starts ICU's time-zone support in V8.
 * That pages about 0.9 MB of node's executable (0.6 MB of ICU data, most of the rest ICU's date and
 * time-zone code) into a process that formats a single date, although neither string depends on a
 * time zone. The agent formats a date for each log line and for each HTTP response's `Date`
 * header, and runs on every storage host (docs/agent-memory.md, "Third round").
 * `Date.prototype.getUTC*` does not start ICU.
 */

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** `hh:mm:ss` of `date` in UTC. */
function utcTime(date: Date): string {
  return `${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}`;
}

/**
 * `new Date(ms).toISOString()`: `2026-11-21T04:47:04.883Z`. Years outside 0 to 9999 are written
 * with a sign and six digits, as ECMAScript's expanded years. Throws a RangeError for an invalid
 * time value, as `toISOString` does.
 */
export function isoTimestamp(ms: number): string {
  const date = new Date(ms);
  const year = date.getUTCFullYear();
  if (Number.isNaN(year)) throw new RangeError('Invalid time value');
  const yearText = year >= 0 && year <= 9999 ? pad(year, 4) : `${year < 0 ? '-' : '+'}${pad(Math.abs(year), 6)}`;
  return `${yearText}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}T${utcTime(date)}.${pad(date.getUTCMilliseconds(), 3)}Z`;
}

/**
 * `new Date(ms).toUTCString()`, the form of HTTP's `Date` header (RFC 9110 §5.6.7, IMF-fixdate):
 * `Sat, 21 Nov 2026 04:47:04 GMT`. An invalid time value gives `Invalid Date`, as `toUTCString` does.
 */
export function httpDate(ms: number): string {
  const date = new Date(ms);
  const year = date.getUTCFullYear();
  if (Number.isNaN(year)) return 'Invalid Date';
  const yearText = year < 0 ? `-${pad(-year, 4)}` : pad(year, 4);
  return `${WEEKDAYS[date.getUTCDay()]}, ${pad(date.getUTCDate(), 2)} ${MONTHS[date.getUTCMonth()]} ${yearText} ${utcTime(date)} GMT`;
}
