import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { IntervalIndex } from "../src/ostd/interval-index.js";

const overlapsHalfOpen = (s: bigint, e: bigint, a: bigint, b: bigint) => s < e && a < b && s < b && a < e;
const overlapsClosed = (s: bigint, e: bigint, a: bigint, b: bigint) => s <= b && a <= e;

describe("IntervalIndex", () => {
  it("answers overlap queries like a brute-force scan (half-open and vostd-closed), through inserts and removes", () => {
    const iv = fc.tuple(fc.bigInt({ min: 0n, max: 200n }), fc.bigInt({ min: 0n, max: 40n })).map(([s, l]) => [s, s + l] as const);
    const op = fc.oneof(
      fc.record({ kind: fc.constant("insert" as const), iv }),
      fc.record({ kind: fc.constant("remove" as const), key: fc.nat(60) }),
      fc.record({ kind: fc.constant("query" as const), iv }),
    );
    fc.assert(
      fc.property(fc.boolean(), fc.array(op, { maxLength: 120 }), (closed, ops) => {
        const idx = new IntervalIndex<number>(closed);
        const live = new Map<number, readonly [bigint, bigint]>();
        const test = closed ? overlapsClosed : overlapsHalfOpen;
        let key = 0;
        for (const o of ops) {
          if (o.kind === "insert") {
            idx.insert(key, o.iv[0], o.iv[1], key);
            live.set(key++, o.iv);
          } else if (o.kind === "remove") {
            expect(idx.remove(o.key)).toBe(live.delete(o.key));
          } else {
            const [a, b] = o.iv;
            const want = [...live].filter(([, [s, e]]) => test(s, e, a, b)).map(([k]) => k).sort((x, y) => x - y);
            expect(idx.overlapping(a, b).sort((x, y) => x - y)).toEqual(want);
            expect(idx.anyOverlap(a, b)).toBe(want.length > 0);
            const f = idx.findOverlap(a, b, (v) => v % 2 === 0);
            expect(f === undefined ? want.every((k) => k % 2 !== 0) : want.includes(f) && f % 2 === 0).toBe(true);
          }
          expect(idx.check()).toBe(true);
          expect(idx.size).toBe(live.size);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("back-to-back and empty ranges: half-open says no overlap, closed (vostd) says overlap", () => {
    const open = new IntervalIndex<string>();
    const closed = new IntervalIndex<string>(true);
    for (const i of [open, closed]) i.insert(1, 0x1000n, 0x2000n, "a");
    expect(open.anyOverlap(0x2000n, 0x3000n)).toBe(false);
    expect(closed.anyOverlap(0x2000n, 0x3000n)).toBe(true);
    expect(open.anyOverlap(0x1800n, 0x1800n)).toBe(false);
    expect(closed.anyOverlap(0x1800n, 0x1800n)).toBe(true);
  });

  it("stays shallow with 10,000 sorted inserts (queries in microseconds)", () => {
    const idx = new IntervalIndex<number>();
    for (let i = 0; i < 10_000; i++) idx.insert(i, BigInt(i) * 0x2000n, BigInt(i) * 0x2000n + 0x1000n, i);
    const t = performance.now();
    for (let i = 0; i < 10_000; i++) idx.anyOverlap(BigInt(i) * 0x2000n + 0x1000n, BigInt(i) * 0x2000n + 0x2000n);
    expect((performance.now() - t) / 10_000).toBeLessThan(50e-3); // < 50 µs per query even on a slow machine
    expect(idx.check()).toBe(true);
  });

  it("keeps answering like a brute-force scan with thousands of ranges, growing and shrinking", () => {
    fc.assert(
      fc.property(fc.boolean(), fc.integer({ min: 1, max: 2 ** 31 }), (closed, seed) => {
        let x = seed >>> 0;
        const next = (n: number) => {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          return x % n;
        };
        const idx = new IntervalIndex<number>(closed);
        const live = new Map<number, readonly [bigint, bigint]>();
        const test = closed ? overlapsClosed : overlapsHalfOpen;
        let key = 0;
        // Grow to about 2,800 ranges, then shrink to about 500, checking along the way.
        for (let step = 0; step < 6000; step++) {
          const growing = step < 3500;
          if (growing ? next(10) < 9 : next(10) < 1) {
            const s0 = BigInt(next(1 << 20)) * 0x100n;
            const iv = [s0, s0 + BigInt(next(8)) * 0x80n] as const;
            idx.insert(key, iv[0], iv[1], key);
            live.set(key++, iv);
          } else if (live.size > 0) {
            const keys = [...live.keys()];
            const k = keys[next(keys.length)]!;
            expect(idx.remove(k)).toBe(true);
            live.delete(k);
          }
          if (step % 97 === 0) {
            const a = BigInt(next(1 << 20)) * 0x100n;
            const b = a + BigInt(next(64)) * 0x100n;
            const want = [...live].filter(([, [s1, e1]]) => test(s1, e1, a, b)).map(([k]) => k).sort((p1, q1) => p1 - q1);
            expect(idx.overlapping(a, b).sort((p1, q1) => p1 - q1)).toEqual(want);
            expect(idx.anyOverlap(a, b)).toBe(want.length > 0);
          }
          if (step % 499 === 0) expect(idx.check()).toBe(true);
        }
        expect(idx.check()).toBe(true);
        expect(idx.size).toBe(live.size);
        expect(idx.entries().map((e) => e.key).sort((p1, q1) => p1 - q1)).toEqual([...live.keys()].sort((p1, q1) => p1 - q1));
      }),
      { numRuns: 6 },
    );
  }, 60_000);
});
