/**
 * Batch.translate serves runs of TLB hits in one loop and runs of misses in
 * another (assembly/access.ts, translateBatch and batchMisses): whatever the
 * mix of hits, misses, faults, page-crossing accesses, global entries and
 * TLB geometries, each address's result and the TLB counters must be what
 * translating the addresses one by one gives, in the same order. The one-by-
 * one path is the reference here; the SDM rules themselves are tested
 * elsewhere (sdm.test.ts, tlb-stats.test.ts).
 */
import { describe, it, expect } from "vitest";
import { Mmu, LONG_MODE, encodeAccess } from "../src/index.js";
import { xorshift32 } from "./helpers/xorshift.mjs";

const rng = xorshift32;

/** 64 pages mapped at 0x400000 (every 5th global, every 7th read-only), then a hole, then 2 MiB pages at 0x40000000. */
function machine(tlb?: { entries: number; ways: number }): Mmu {
  const mmu = new Mmu(tlb ? { tlb } : undefined);
  const pt = mmu.createPageTable();
  for (let i = 0; i < 64; i++) {
    pt.map(0x400000n + BigInt(i) * 0x1000n, 0x800000n + BigInt(i) * 0x1000n, 0x1000n, { flags: { writable: i % 7 !== 0, user: true, global: i % 5 === 0 } });
  }
  pt.map(0x40000000n, 0x80000000n, 0x400000n, { size: "2M", flags: { writable: true, user: true } });
  mmu.loadState({ ...LONG_MODE, cr4: LONG_MODE.cr4 | (1n << 7n), cr3: pt.root });
  return mmu;
}

function addresses(seed: number, n: number): bigint[] {
  const next = rng(seed);
  const out: bigint[] = [];
  let run = 0n;
  for (let i = 0; i < n; i++) {
    const k = next() % 100;
    // Runs of the same page make hit runs; the rest mixes misses, faults and crossings.
    if (k < 40 && i > 0) out.push(run + BigInt(next() & 0xff8));
    else if (k < 70) out.push((run = 0x400000n + BigInt(next() % 64) * 0x1000n) + BigInt(next() & 0xfff));
    else if (k < 80) out.push(0x40000000n + BigInt(next() % 0x400000));
    else if (k < 88) out.push(0x440000n + BigInt(next() % 0x10000)); // unmapped: #PF
    else if (k < 94) out.push(0x400000n + BigInt(next() % 64) * 0x1000n + 0xffcn); // crosses into the next page (or the hole)
    else out.push(0x800000000000n + BigInt(next() % 0x1000)); // non-canonical: #GP
  }
  return out;
}

describe("batch translation in runs of hits and misses", () => {
  for (const [label, tlb] of [["direct-mapped 1024", undefined], ["2-way 64", { entries: 64, ways: 2 }], ["16-way 16", { entries: 16, ways: 16 }]] as const) {
    for (const op of ["read", "write"] as const) {
      it(`matches one-by-one translation, results and counters (${label}, ${op})`, () => {
        for (const seed of [1, 2, 3]) {
          const addrs = addresses(seed, 3000);
          const acc = encodeAccess({ op, size: 8, cpl: 3 });
          const one = machine(tlb);
          const batched = machine(tlb);
          one.resetTlbStats();
          batched.resetTlbStats();
          // In chunks, so some batches start on a hit and some on a miss.
          const b = batched.batch(512);
          const got: bigint[] = [];
          let faults = 0;
          // Odd and even lengths, so a batch may end on either address of the hit loop's pair.
          for (let at = 0, k = 0; at < addrs.length; k++) {
            const len = [500, 333, 1, 2, 77][k % 5]!;
            const chunk = addrs.slice(at, at + len);
            at += len;
            b.input.set(chunk);
            faults += b.translate(chunk.length, acc);
            got.push(...b.output.subarray(0, chunk.length));
          }
          const want: bigint[] = [];
          let wantFaults = 0;
          const ob = one.batch(1);
          for (const va of addrs) {
            ob.input[0] = va;
            wantFaults += ob.translate(1, acc);
            want.push(ob.output[0]!);
          }
          expect(got).toEqual(want);
          expect(faults).toBe(wantFaults);
          expect(faults).toBeGreaterThan(100);
          expect(batched.tlbStats()).toEqual(one.tlbStats());
          expect(batched.tlbEntries()).toEqual(one.tlbEntries());
          // And the single-call path (a different fill): the same physical addresses and TLB entries.
          const single = machine(tlb);
          addrs.forEach((va, i) => {
            const t = single.tryTranslate(va, acc);
            if (t.ok) expect(t.pa).toBe(want[i]);
            else expect(want[i]! >> 63n).toBe(1n);
          });
          expect(batched.tlbEntries()).toEqual(single.tlbEntries());
        }
      });
    }
  }

  for (const size of [1, 2, 4, 8] as const) {
    it(`loads of ${size} bytes: the batch's values, stopping point and counters match one-by-one reads (with a device page)`, () => {
      for (const seed of [4, 5]) {
        // Mapped pages only (a fault ends a batch load), some crossing into the next page.
        const next = rng(seed);
        const addrs = Array.from({ length: 2000 }, (_, i) =>
          i % 97 === 96 ? 0x440000n : 0x400000n + BigInt(next() % 64) * 0x1000n + BigInt(next() % 0x1000),
        );
        const acc = encodeAccess({ op: "read", size, cpl: 3 });
        const make = () => {
          const mmu = machine();
          // Data in every frame, and a device behind page 5 (0x805000).
          for (let i = 0; i < 64; i++) if (i !== 5) mmu.memory.writeBytes(0x800000n + BigInt(i) * 0x1000n, new Uint8Array(0x1000).map((_, k) => (k * 7 + i) & 0xff));
          mmu.mapDevice(0x805000n, 0x1000n, { read: (pa, sz) => (pa * 3n + BigInt(sz)) & ((1n << BigInt(8 * sz)) - 1n), write: () => undefined });
          mmu.resetTlbStats();
          return mmu;
        };
        const batched = make();
        const one = make();
        const b = batched.batch(2000);
        b.input.set(addrs);
        const got: bigint[] = [];
        let at = 0;
        // Each call stops at a fault: skip the faulting address and go on.
        while (at < addrs.length) {
          b.input.set(addrs.slice(at));
          const k = b.load(addrs.length - at, acc);
          got.push(...b.output.subarray(0, k));
          at += k;
          if (at < addrs.length) {
            got.push(-1n);
            at++;
          }
        }
        const want = addrs.map((va) => {
          try {
            return one.read(va, size, { cpl: 3 });
          } catch {
            return -1n;
          }
        });
        expect(got).toEqual(want);
        expect(got.filter((v) => v === -1n).length).toBeGreaterThan(10);
        expect(batched.tlbEntries()).toEqual(one.tlbEntries());
      }
    });
  }

  it("misses several at a time (overlapped PTE loads) give what one-by-one translation gives, flags and faults included", () => {
    // 2048 pages of 4 KiB (4 page tables), every 13th read-only, every 29th not mapped; shuffled distinct pages.
    const make = () => {
      const mmu = new Mmu();
      const pt = mmu.createPageTable();
      for (let i = 0; i < 2048; i++) {
        if (i % 29 === 28) continue;
        pt.map(0x10000000n + BigInt(i) * 0x1000n, 0x2000000n + BigInt(i) * 0x1000n, 0x1000n, { flags: { writable: i % 13 !== 0, user: true } });
      }
      mmu.loadState({ ...LONG_MODE, cr3: pt.root });
      mmu.resetTlbStats();
      return mmu;
    };
    const next = rng(9);
    const pages = Array.from({ length: 2048 }, (_, i) => i);
    for (let i = pages.length - 1; i > 0; i--) {
      const j = next() % (i + 1);
      [pages[i], pages[j]] = [pages[j]!, pages[i]!];
    }
    const distinct = pages.map((i) => 0x10000000n + BigInt(i) * 0x1000n + BigInt(next() & 0xff8));
    // The same run with repeats: a page seen 1 to 7 addresses before (within one group of lanes: the repeat
    // is a TLB hit one by one, so the group must stop before it) and pages 1024 apart (the same TLB set).
    const repeats: bigint[] = [];
    for (let k = 0; k < 2048; k++) {
      repeats.push(distinct[k]!);
      if (k % 5 === 4) repeats.push((distinct[k - (next() % 4)]! & ~0xfffn) + 0x10n);
      if (k % 7 === 6) repeats.push(0x10000000n + BigInt((pages[k]! + 1024) % 2048) * 0x1000n + 0x20n);
    }
    for (const [op, addrs] of [["read", distinct], ["write", distinct], ["read", repeats], ["write", repeats]] as const) {
      const acc = encodeAccess({ op, size: 8, cpl: 3 });
      const batched = make();
      const one = make();
      const b = batched.batch(addrs.length);
      const ob = one.batch(1);
      // Three passes, the TLB flushed before each: the first sets A (and D), later ones find the flags set.
      for (let pass = 0; pass < 3; pass++) {
        batched.flushTlb();
        one.flushTlb();
        b.input.set(addrs);
        const faults = b.translate(addrs.length, acc);
        const got = [...b.output.subarray(0, addrs.length)];
        let wantFaults = 0;
        const want = addrs.map((va) => {
          ob.input[0] = va;
          wantFaults += ob.translate(1, acc);
          return ob.output[0]!;
        });
        expect(got).toEqual(want);
        expect(faults).toBe(wantFaults);
        expect(batched.tlbStats()).toEqual(one.tlbStats());
        expect(batched.tlbEntries()).toEqual(one.tlbEntries());
      }
      expect(batched.memory.readBytes(0x100000n, 0x8000)).toEqual(one.memory.readBytes(0x100000n, 0x8000)); // the tables, A and D alike
    }
  });

  it("loads several at a time (overlapped PTE, storage and data loads) give what one-by-one reads give", () => {
    const make = () => {
      const mmu = new Mmu();
      const pt = mmu.createPageTable();
      for (let i = 0; i < 2048; i++) pt.map(0x10000000n + BigInt(i) * 0x1000n, 0x20000000n + BigInt(i) * 0x1000n, 0x1000n, { flags: { writable: true, user: true } });
      // Every other frame holds data (above the window: its storage is looked up); the rest read as zeros.
      for (let i = 0; i < 2048; i += 2) mmu.memory.write(0x20000000n + BigInt(i) * 0x1000n + 0x18n, 8, BigInt(i) * 0x10001n + 1n);
      mmu.loadState({ ...LONG_MODE, cr3: pt.root });
      mmu.resetTlbStats();
      return mmu;
    };
    const next = rng(11);
    const pages = Array.from({ length: 2048 }, (_, i) => i);
    for (let i = pages.length - 1; i > 0; i--) {
      const j = next() % (i + 1);
      [pages[i], pages[j]] = [pages[j]!, pages[i]!];
    }
    const addrs = pages.map((i) => 0x10000000n + BigInt(i) * 0x1000n + 0x18n);
    for (const size of [8, 4, 1] as const) {
      const acc = encodeAccess({ op: "read", size, cpl: 3 });
      const batched = make();
      const one = make();
      const b = batched.batch(2048);
      for (let pass = 0; pass < 3; pass++) {
        batched.flushTlb();
        one.flushTlb();
        b.input.set(addrs);
        expect(b.load(addrs.length, acc)).toBe(addrs.length);
        const got = [...b.output.subarray(0, addrs.length)];
        const want = addrs.map((va) => one.read(va, size, { cpl: 3 }));
        expect(got).toEqual(want);
        expect(batched.tlbEntries()).toEqual(one.tlbEntries());
      }
    }
  });
});

