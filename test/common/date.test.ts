// Proves src/common/date.ts gives exactly what V8's `toISOString` and `toUTCString` give, over
// ordinary, edge and expanded years, and that the agent's HTTP server sends its own `Date` header
// (one header, in node's format) instead of node's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { httpDate, isoTimestamp } from '../../src/common/date.js';
import { startHttpServer } from '../../src/agent/http.js';

const MAX_TIME = 8.64e15; // ECMAScript's largest time value, in ms either side of 1970

/** Time values worth checking: edges of the formats and of the calendar, then a seeded spread. */
function timeValues(): number[] {
  const values = [0, -1, 1, Date.now(), MAX_TIME, -MAX_TIME, Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), Date.UTC(0, 0, 1) - 1];
  for (const year of [-10000, -1, 0, 1, 99, 100, 999, 1000, 1969, 1970, 2000, 2024, 2100, 9999, 10000, 123456]) {
    const date = new Date(0);
    date.setUTCFullYear(year, 1, 29);
    values.push(date.getTime(), date.getTime() - 1);
  }
  let seed = 12345;
  for (let index = 0; index < 2000; index++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    values.push(Math.round(((seed / 2 ** 31) * 2 - 1) * MAX_TIME));
  }
  return values;
}

test('isoTimestamp and httpDate give what toISOString and toUTCString give', () => {
  for (const ms of timeValues()) {
    assert.equal(isoTimestamp(ms), new Date(ms).toISOString(), `isoTimestamp(${ms})`);
    assert.equal(httpDate(ms), new Date(ms).toUTCString(), `httpDate(${ms})`);
  }
});

test('an invalid time value: isoTimestamp throws a RangeError, httpDate gives Invalid Date', () => {
  for (const ms of [Number.NaN, MAX_TIME + 1, Number.POSITIVE_INFINITY]) {
    assert.throws(() => isoTimestamp(ms), RangeError);
    assert.throws(() => new Date(ms).toISOString(), RangeError);
    assert.equal(httpDate(ms), new Date(ms).toUTCString());
  }
});

test('the agent HTTP server sends one Date header, in the form node would write', async () => {
  const server = await startHttpServer('127.0.0.1', 0, () => {
    throw new Error('not reached: the test asks only for its own route');
  }, { '/x': (_request, response) => response.end('ok') });
  try {
    const before = Date.now();
    const rawHeaders = await new Promise<string[]>((resolve, reject) => {
      request(`${server.url}/x`, (response) => {
        response.resume();
        response.on('end', () => resolve(response.rawHeaders));
      }).on('error', reject).end();
    });
    const after = Date.now();
    const dates = rawHeaders.filter((_value, index) => index % 2 === 1 && rawHeaders[index - 1]!.toLowerCase() === 'date');
    assert.equal(dates.length, 1);
    assert.ok([httpDate(before), httpDate(after)].includes(dates[0]!), `Date: ${dates[0]}`);
  } finally {
    await server.close();
  }
});
