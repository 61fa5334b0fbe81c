/**
 * 64-bit addresses at the API: `bigint` covers the whole space exactly (the
 * kernel half included); a `number` is accepted when it is a safe integer, so
 * nothing is ever silently rounded. Inside, an address is two u32 halves.
 */

import { ArgumentError } from "./errors.js";
import { hex, show } from "./hex.js";

export { hex, show };

export type Address = bigint | number;

const TWO_32 = 4294967296;
const U64_MAX = (1n << 64n) - 1n;

/** Checks `v` is an integer in [0, 2^64) and returns it as a bigint. */
export function toU64(v: Address, what = "address"): bigint {
  if (typeof v === "bigint") {
    if (v < 0n || v > U64_MAX) throw new ArgumentError(`${what} ${v < 0n ? "-" + hex(-v) : hex(v)} is outside 0..2^64-1`);
    return v;
  }
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    throw new ArgumentError(`${what} ${show(v)} is not a non-negative safe integer: pass a bigint for addresses at or above 2^53`);
  }
  return BigInt(v);
}

/** Low and high u32 halves of a 64-bit value given as bigint. */
export function lo32(v: bigint): number {
  return Number(v & 0xffffffffn);
}
export function hi32(v: bigint): number {
  return Number((v >> 32n) & 0xffffffffn);
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
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Checks that `value` fits in `size` bytes (0 <= value < 2^(8*size)) and returns it as a bigint. */
export function toSized(value: bigint | number, size: number, what = "value"): bigint {
  const v = toU64(value, what);
  if (size < 8 && v >> BigInt(8 * size) !== 0n) throw new ArgumentError(`${what} ${hex(v)} does not fit in ${size} byte${size === 1 ? "" : "s"}`);
  return v;
}
