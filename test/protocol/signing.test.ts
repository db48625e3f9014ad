// Proves commands are authenticated as DESIGN.md §5.2 requires: a signed command verifies, and a
// tampered field, a wrong key, another node or cluster, a replay, or a timestamp outside the skew
// window is refused with its code; the replay set stays bounded. Also proves bearer tokens: they
// verify until expiry, and tampering or the wrong key is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import {
  COMMAND_SKEW_MS,
  ProtocolError,
  commandSigningInput,
  createCommandVerifier,
  createReplayGuard,
  createToken,
  decodeMessage,
  encodeCanonicalCbor,
  encodeMessage,
  signCommand,
  signOperatorRequest,
  verifyCommandSignature,
  verifyOperatorRequest,
  verifyToken,
  type Command,
  type CommandBody,
} from '../../src/protocol/index.js';
import { TS } from './samples.js';

const key = new Uint8Array(32).fill(1);
const otherKey = new Uint8Array(32).fill(2);
const body: CommandBody = { cmdId: 'cmd-1', type: 'fence', shard: 3, epoch: 7, args: { session: 's-1' }, ts: TS };

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ProtocolError, `expected ProtocolError, got ${String(error)}`);
    return error.code;
  }
  return 'no error';
};

test('the signature is HMAC-SHA256 over the documented canonical array', () => {
  const signed = signCommand(key, 'prod', 'node-a', body);
  const input = encodeCanonicalCbor(['foreshard/v1/cmd', 'prod', 'node-a', { cmdId: 'cmd-1', type: 'fence', shard: 3, epoch: 7, args: { session: 's-1' }, ts: TS }]);
  assert.deepEqual(Buffer.from(commandSigningInput('prod', 'node-a', signed)), Buffer.from(input));
  assert.deepEqual(Buffer.from(signed.sig), createHmac('sha256', key).update(input).digest());
});

test('a signed command survives the wire and verifies', () => {
  const signed = signCommand(key, 'prod', 'node-a', { cmdId: 'cmd-2', type: 'promote', shard: 1, epoch: 8, args: { session: 's-1', throughLsn: 6_000_000_000 }, ts: TS });
  const received = decodeMessage('command', encodeMessage('command', signed));
  assert.doesNotThrow(() => verifyCommandSignature(key, 'prod', 'node-a', received));
});

test('tampering, a wrong key, another node or another cluster give BAD_SIGNATURE', () => {
  const signed = signCommand(key, 'prod', 'node-a', body);
  assert.equal(codeOf(() => verifyCommandSignature(otherKey, 'prod', 'node-a', signed)), 'BAD_SIGNATURE');
  assert.equal(codeOf(() => verifyCommandSignature(key, 'prod', 'node-b', signed)), 'BAD_SIGNATURE');
  assert.equal(codeOf(() => verifyCommandSignature(key, 'staging', 'node-a', signed)), 'BAD_SIGNATURE');
  assert.equal(codeOf(() => verifyCommandSignature(key, 'prod', 'node-a', { ...signed, epoch: 8 } as Command)), 'BAD_SIGNATURE');
  assert.equal(codeOf(() => verifyCommandSignature(key, 'prod', 'node-a', { ...signed, ts: TS + 1 } as Command)), 'BAD_SIGNATURE');
  const flipped = Uint8Array.from(signed.sig);
  flipped[31] ^= 1;
  assert.equal(codeOf(() => verifyCommandSignature(key, 'prod', 'node-a', { ...signed, sig: flipped })), 'BAD_SIGNATURE');
  assert.equal(codeOf(() => verifyCommandSignature(key, 'prod', 'node-a', { ...signed, sig: new Uint8Array(0) })), 'BAD_SIGNATURE');
});

test('short keys are refused', () => {
  assert.equal(codeOf(() => signCommand(new Uint8Array(16), 'prod', 'node-a', body)), 'BAD_KEY');
});

test('replays and stale or future timestamps are refused', () => {
  const verifier = createCommandVerifier({ key, cluster: 'prod', node: 'node-a' });
  const signed = signCommand(key, 'prod', 'node-a', body);
  assert.doesNotThrow(() => verifier.verify(signed, TS + 1000));
  assert.equal(codeOf(() => verifier.verify(signed, TS + 2000)), 'REPLAYED_COMMAND');
  assert.equal(codeOf(() => verifier.verify(signCommand(key, 'prod', 'node-a', { ...body, cmdId: 'cmd-old' }), TS + COMMAND_SKEW_MS + 1)), 'STALE_COMMAND');
  assert.equal(codeOf(() => verifier.verify(signCommand(key, 'prod', 'node-a', { ...body, cmdId: 'cmd-new' }), TS - COMMAND_SKEW_MS - 1)), 'STALE_COMMAND');
  // A forged command is refused before it can take room in the replay set.
  assert.equal(codeOf(() => verifier.verify({ ...signed, cmdId: 'cmd-forged' } as Command, TS)), 'BAD_SIGNATURE');
});

test('the replay set is bounded: it forgets ids whose ts left the window, and fails closed when full', () => {
  const guard = createReplayGuard({ skewMs: 1000, maxRemembered: 3 });
  guard.admit('a', 0, 0);
  guard.admit('b', 10, 10);
  guard.admit('c', 20, 20);
  assert.equal(codeOf(() => guard.admit('d', 30, 30)), 'REPLAY_GUARD_FULL');
  assert.equal(codeOf(() => guard.admit('a', 500, 500)), 'REPLAYED_COMMAND');
  // At 1001, 'a' (ts 0) can no longer be replayed (it would be stale), so it is forgotten.
  guard.admit('d', 1001, 1001);
  assert.equal(guard.size, 3);
  assert.equal(codeOf(() => guard.admit('b', 1005, 1005)), 'REPLAYED_COMMAND');
});

test('tokens verify until they expire', () => {
  const token = createToken(key, { sub: 'client:alice', expiresAt: TS + 60_000 });
  assert.match(token, /^fst1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  assert.deepEqual(verifyToken(key, token, TS), { sub: 'client:alice', expiresAt: TS + 60_000 });
  assert.equal(codeOf(() => verifyToken(key, token, TS + 60_000)), 'TOKEN_EXPIRED');
});

test('tampered, foreign-key and malformed tokens are refused with their codes', () => {
  const token = createToken(key, { sub: 'client:alice', expiresAt: TS + 60_000 });
  const [prefix, , mac] = token.split('.');
  const forgedPayload = Buffer.from(JSON.stringify({ sub: 'client:admin', exp: TS + 60_000 })).toString('base64url');
  assert.equal(codeOf(() => verifyToken(key, `${prefix}.${forgedPayload}.${mac}`, TS)), 'TOKEN_BAD_SIGNATURE');
  assert.equal(codeOf(() => verifyToken(otherKey, token, TS)), 'TOKEN_BAD_SIGNATURE');
  for (const bad of ['', 'fst1', 'fst1..', 'fst2.a.b', 'fst1.a b.c', 'x'.repeat(2000)]) {
    assert.equal(codeOf(() => verifyToken(key, bad, TS)), 'TOKEN_MALFORMED', bad.slice(0, 20));
  }
  assert.equal(codeOf(() => createToken(key, { sub: 'has space', expiresAt: TS })), 'TOKEN_MALFORMED');
});

test('operator requests verify with the cluster key, and never as a node command', () => {
  const request = signOperatorRequest(key, 'prod', { reqId: 'req-1', type: 'switch', shard: 4, toNode: 'node-b', ts: TS });
  const received = decodeMessage('operator-request', encodeMessage('operator-request', request));
  verifyOperatorRequest(key, 'prod', received);
  assert.equal(codeOf(() => verifyOperatorRequest(otherKey, 'prod', received)), 'BAD_SIGNATURE');
  assert.equal(codeOf(() => verifyOperatorRequest(key, 'other', received)), 'BAD_SIGNATURE');
  assert.equal(codeOf(() => verifyOperatorRequest(key, 'prod', { ...received, shard: 5 } as typeof received)), 'BAD_SIGNATURE');
});
