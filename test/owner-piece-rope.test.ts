/**
 * MemView over many pieces (src/ostd/piece-rope.ts keeps them in shared
 * chunks of 64): random splits, joins, borrows and lookups on views of
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
});
