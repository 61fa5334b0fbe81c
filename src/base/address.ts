/**
 * 64-bit addresses at the API: `bigint` covers the whole space exactly (the
 * kernel half included); a `number` is accepted when it is a safe integer, so
 * nothing is ever silently rounded. Inside, an address is two u32 halves.
 */

import { ArgumentError } from "./errors.js";
import { hex, show, showName } from "./hex.js";

export { hex, show, showName };

export type Address = bigint | number;

const TWO_32 = 4294967296;

/** Checks `v` is an integer in [0, 2^64) and returns it as a bigint. */
export function toU64(v: Address, what = "address"): bigint {
  if (typeof v === "bigint") {
    if (BigInt.asUintN(64, v) !== v) throw new ArgumentError(`${what} ${v < 0n ? "-" + hex(-v) : hex(v)} is outside 0..2^64-1`);
    return v;
  }
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new ArgumentError(`${what} ${show(v)} is not a non-negative safe integer: pass a bigint for addresses at or above 2^53`);
  }
  return BigInt(v);
}

/**
 * One 64-bit lane seen as two u32 halves: V8 converts between bigint and the
 * halves through a typed array in a few nanoseconds, where `v >> 32n` or
 * `BigInt(n)` of a number above 2^32 cost 60-70 ns (they allocate).
 */
const LANE64 = new BigUint64Array(1);
const LANE32 = new Uint32Array(LANE64.buffer);

/** Low and high u32 halves of a 64-bit value given as bigint (modulo 2^64, as a mask would). */
export function lo32(v: bigint): number {
  LANE64[0] = v;
  return LANE32[0]!;
}
export function hi32(v: bigint): number {
  LANE64[0] = v;
  return LANE32[1]!;
}

/** A non-negative safe integer (a physical address from the core) as a bigint. */
export function bigOfNumber(n: number): bigint {
  if (n < TWO_32) return BigInt(n);
  LANE32[0] = n >>> 0;
  LANE32[1] = Math.floor(n / TWO_32);
  return LANE64[0]!;
}

/** Checks a number address for the number fast paths: a non-negative safe integer (no BigInt, no allocation). */
export function checkNumber(v: number, what = "address"): void {
  if (!(Number.isSafeInteger(v) && v >= 0)) {
    throw new ArgumentError(`${what} ${show(v)} is not a non-negative safe integer: pass a bigint for addresses at or above 2^53`);
  }
}

/** High u32 half of a safe non-negative integer. */
export function hiOfNumber(v: number): number {
  return v < TWO_32 ? 0 : Math.floor(v / TWO_32);
}

/** Joins u32 halves into a bigint. */
export function join64(lo: number, hi: number): bigint {
  LANE32[0] = lo;
  LANE32[1] = hi;
  return LANE64[0]!;
}

/** Checks that `value` fits in `size` bytes (0 <= value < 2^(8*size)) and returns it as a bigint. */
export function toSized(value: bigint | number, size: number, what = "value"): bigint {
  const v = toU64(value, what);
  if (size < 8 && v >> BigInt(8 * size) !== 0n) throw new ArgumentError(`${what} ${hex(v)} does not fit in ${size} byte${size === 1 ? "" : "s"}`);
  return v;
}
