/**
 * A small, fast, seedable pseudo-random source (mulberry32): the same seed gives the same sequence
 * on every run, so a randomized test or benchmark can print its seed and be replayed. Not for
 * anything that needs unpredictability (tokens and keys use node:crypto).
 */

/** A uniform source in [0, 1) seeded with a 32-bit integer. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
