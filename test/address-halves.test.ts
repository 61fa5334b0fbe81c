/**
 * 64-bit values at the API cross into the core as two u32 halves (src/base/address.ts).
 * The conversions go through a typed-array lane (for speed); these pin their values
 * at the edges, against plain bigint arithmetic.
 */
import { describe, expect, it } from "vitest";
import { ArgumentError, bigOfNumber, hi32, join64, lo32, toU64 } from "../src/base/index.js";

const edges = [0n, 1n, 0xffffffffn, 0x100000000n, 0x1fffffffffffffn, 0x7fffffffffffffffn, 0x8000000000000000n, 0xffff800000000001n, (1n << 64n) - 1n];

describe("u32 halves of 64-bit values", () => {
  it("lo32/hi32 split and join64 joins, at every edge", () => {
    for (const v of edges) {
      expect(lo32(v)).toBe(Number(v & 0xffffffffn));
      expect(hi32(v)).toBe(Number(v >> 32n));
      expect(join64(lo32(v), hi32(v))).toBe(v);
    }
    // Halves given as signed i32 (as wasm returns them) are read as unsigned.
    expect(join64(-1, -1)).toBe((1n << 64n) - 1n);
    expect(join64(-2147483648, 0)).toBe(0x80000000n);
  });

  it("bigOfNumber is exact for every safe integer, below and above 2^32", () => {
    for (const n of [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, 0x123456789abc, Number.MAX_SAFE_INTEGER]) {
      expect(bigOfNumber(n)).toBe(BigInt(n));
    }
  });

  it("toU64 refuses what is outside 0..2^64-1 instead of wrapping it", () => {
    expect(toU64((1n << 64n) - 1n)).toBe((1n << 64n) - 1n);
    expect(() => toU64(1n << 64n)).toThrow(ArgumentError);
    expect(() => toU64(-1n)).toThrow(ArgumentError);
    expect(() => toU64(-(1n << 64n))).toThrow(ArgumentError);
    expect(toU64(0x100000000)).toBe(0x100000000n);
  });
});
