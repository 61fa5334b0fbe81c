/**
 * MemView over many pieces (src/ostd/piece-rope.ts keeps them in shared
 * chunks of up to 64, in groups of up to 32 chunks): random splits, joins, borrows and lookups on views of
 * hundreds to thousands of pieces, against a model that is a plain map of
 * page -> (frame, flags). The pieces a view reports must be exactly those a
 * view built from scratch from the model has (pieces are canonical).
 */
import fc from "fast-check";
import { describe, it, expect } from "vitest";
import { MemView, type Mapping } from "../src/ostd/mem-view.js";

const PAGE = 0x1000n;
const runs = Number(process.env.X86MMU_PROPERTY_RUNS ?? "") || 60;

/** Page p maps to frame 0x100000 + p with flags alternating every `run` pages, so pieces stay apart. */
function mappingsOf(pages: number[], run: number): Mapping[] {
  return pages.map((p) => ({ va: BigInt(p) * PAGE, pa: 0x100000n * PAGE + BigInt(p) * PAGE, size: PAGE, flags: Math.floor(p / run) % 2 ? 0x7n : 0x5n }));
}

type Op = { t: "split"; from: number; len: number } | { t: "join" } | { t: "borrow"; from: number; len: number };

/** No empty chunk or group; chunks of at most 64 pieces, groups of at most 32 chunks. */
function expectShape(view: MemView): void {
  const shape = (view as unknown as { ps: { shape(): number[][] } }).ps.shape();
  for (const grp of shape) {
    expect(grp.length).toBeGreaterThan(0);
    expect(grp.length).toBeLessThanOrEqual(32);
    for (const n of grp) expect(n > 0 && n <= 64).toBe(true);
  }
}

describe("MemView with many pieces", () => {
  it("splits and joins agree with a page-map model; lookups agree everywhere", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 200, max: 3000 }),
        fc.integer({ min: 1, max: 3 }),
        fc.array(
          fc.oneof(
            fc.record({ t: fc.constant("split" as const), from: fc.nat(3200), len: fc.integer({ min: 1, max: 400 }) }),
            fc.constant({ t: "join" as const }),
            fc.record({ t: fc.constant("borrow" as const), from: fc.nat(3200), len: fc.integer({ min: 1, max: 400 }) }),
          ),
          { minLength: 1, maxLength: 40 },
        ),
        (n, run, ops) => {
          const pages = Array.from({ length: n }, (_, i) => i);
          let view = MemView.ofMappings(mappingsOf(pages, run));
          let model = new Set(pages);
          const taken: { view: MemView; pages: number[] }[] = [];
          for (const op of ops as Op[]) {
            if (op.t === "split") {
              const [inside, rest] = view.split(BigInt(op.from) * PAGE, BigInt(op.len) * PAGE);
              const got = [...model].filter((p) => p >= op.from && p < op.from + op.len);
              for (const p of got) model.delete(p);
              expect(inside.equals(MemView.ofMappings(mappingsOf(got, run)))).toBe(true);
              taken.push({ view: inside, pages: got });
              view = rest;
            } else if (op.t === "join") {
              const back = taken.pop();
              if (!back) continue;
              view = view.join(back.view);
              for (const p of back.pages) model.add(p);
            } else {
              const b = view.borrowAt(BigInt(op.from) * PAGE, BigInt(op.len) * PAGE);
              expect(b.equals(MemView.ofMappings(mappingsOf([...model].filter((p) => p >= op.from && p < op.from + op.len), run)))).toBe(true);
            }
            const sorted = [...model].sort((a, b) => a - b);
            const fresh = MemView.ofMappings(mappingsOf(sorted, run));
            expect(view.pieces).toEqual(fresh.pieces);
            expect(view.wellFormed()).toBe(true);
            expectShape(view);
            model = new Set(sorted);
          }
          for (let p = 0; p < n + 2; p += 7) {
            const t = view.addrTransl(BigInt(p) * PAGE + 5n);
            expect(t?.pa).toBe(model.has(p) ? 0x100000n * PAGE + BigInt(p) * PAGE + 5n : undefined);
            expect(view.covers(BigInt(p) * PAGE, BigInt(p + 1) * PAGE)).toBe(model.has(p));
          }
        },
      ),
      { numRuns: runs },
    );
  }, 120_000);

  it("splits and joins across groups on a view of 20,000 pieces: the same pieces as a view built afresh", () => {
    const n = 20_000;
    const pages = Array.from({ length: n }, (_, i) => i);
    const whole = MemView.ofMappings(mappingsOf(pages, 1));
    expect(whole.pieces.length).toBe(n);
    // 64 * 32 = 2,048 pieces a full group. The cuts: most of the second group (what is left of it
    // is too small and takes the next group in), from inside one group to several groups later,
    // single pieces, the last and the first.
    const cuts = [[2080, 1968], [6000, 5000], [11_500, 1], [12_345, 4096], [19_990, 10], [0, 1]] as const;
    let view = whole;
    const taken: MemView[] = [];
    for (const [from, len] of cuts) {
      const [inside, rest] = view.split(BigInt(from) * PAGE, BigInt(len) * PAGE);
      expect(inside.pieces.length).toBe(len);
      taken.push(inside);
      view = rest;
      expectShape(view);
    }
    const left = pages.filter((p) => !cuts.some(([from, len]) => p >= from && p < from + len));
    expect(view.equals(MemView.ofMappings(mappingsOf(left, 1)))).toBe(true);
    for (const t of taken.reverse()) view = view.join(t);
    expect(view.equals(whole)).toBe(true);
    expectShape(view);
    for (const p of [0, 2079, 2080, 4047, 4048, 10_999, 11_000, 16_440, 19_999]) expect(view.addrTransl(BigInt(p) * PAGE)?.pa).toBe(0x100000n * PAGE + BigInt(p) * PAGE);
  });
});
