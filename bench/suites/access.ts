/**
 * Fused translate-and-load / translate-and-store of 1, 2, 4 and 8 bytes, what
 * an emulator does per guest memory instruction: 4096 random aligned
 * addresses over the 64-page hot set (TLB hits), CPL 3, every check on.
 *
 * x86mmu: one batch call (`Batch.load` / `Batch.store`), or one call per
 * access (`loadNumber` / `storeNumber` for 1, 2, 4 bytes; the bigint
 * `read` / `write` for 8 bytes, the only single-call 8-byte API). Baselines:
 * the shared yardstick's `walk` (baselines/minimal-walker.mjs, called from a
 * plain loop here) and the full TypeScript walker, each followed by the
 * typed-array load or store on the baselines' RAM (the 64 hot frames, with the
 * same contents as the core's). The mapping is the yardstick's (world.ts
 * `buildYardstickWorld`); the addresses its `addresses()` over the first 64
 * pages.
 *
 * One more group, the load an emulator does when the guest touches memory at
 * random (issue 12): 8-byte loads at 4096 addresses from `addresses()` over
 * the whole 1 GiB, every frame with storage in the core and in a 1 GiB
 * buffer for the yardstick (same bytes); nearly every access misses the TLB.
 * Interleaved rounds, as the translate groups.
 */

import { x86 } from "../lib.js";
import { interleavedGroup, consume, type BenchCase, type Ctx } from "../harness.js";
import { walk, addresses, VA_HI, DATA_BASE } from "../baselines/minimal-walker.mjs";
import { FullWalker, OP_READ, OP_WRITE } from "../baselines/full-walker.js";
import { buildYardstickWorld, yardSet, HOT_SPAN, GIB, type AddrSet, type YardstickWorld } from "../world.js";

const N = 4096;
type Size = 1 | 2 | 4 | 8;

/** Loads of `size` bytes at offset `pa` (physical address - DATA_BASE) of the baselines' RAM. */
// The baselines' loops, one function per size and walker. A loop shared by
// every size (calling a loader or storer made per size) shares V8's feedback
// across the sizes: its call saw four targets and was inlined for none, and
// the 2-, 4- and 8-byte baselines took 17-23 ns an access where the 1-byte
// one took 9. A skilled user writes the load of a fixed size in the loop.

/** The yardstick, then a load of `size` bytes from the baselines' RAM, over the addresses' low halves `p` (pairs). */
function yardLoads(hot: ArrayBuffer, p: Uint32Array, size: Size): () => number {
  const u8 = new Uint8Array(hot);
  const u16 = new Uint16Array(hot);
  const u32 = new Uint32Array(hot);
  if (size === 1) return () => { let s = 0; for (let i = 0; i < N; i++) { const pa = walk(VA_HI, p[2 * i]!, true); if (pa !== -1) s += u8[pa - DATA_BASE]!; } return s; };
  if (size === 2) return () => { let s = 0; for (let i = 0; i < N; i++) { const pa = walk(VA_HI, p[2 * i]!, true); if (pa !== -1) s += u16[(pa - DATA_BASE) >>> 1]!; } return s; };
  if (size === 4) return () => { let s = 0; for (let i = 0; i < N; i++) { const pa = walk(VA_HI, p[2 * i]!, true); if (pa !== -1) s += u32[(pa - DATA_BASE) >>> 2]!; } return s; };
  return () => { let s = 0; for (let i = 0; i < N; i++) { const pa = walk(VA_HI, p[2 * i]!, true); if (pa !== -1) { const k = (pa - DATA_BASE) >>> 2; s += u32[k]! + u32[k + 1]!; } } return s; }; // both halves read
}

/** The full walker, then the same loads. */
function fullLoads(hot: ArrayBuffer, p: Uint32Array, size: Size, full: FullWalker): () => number {
  const u8 = new Uint8Array(hot);
  const u16 = new Uint16Array(hot);
  const u32 = new Uint32Array(hot);
  if (size === 1) return () => { let s = 0; for (let i = 0; i < N; i++) if (full.translate(p[2 * i]!, p[2 * i + 1]!, OP_READ, true, false)) s += u8[full.paLo - DATA_BASE]!; return s; };
  if (size === 2) return () => { let s = 0; for (let i = 0; i < N; i++) if (full.translate(p[2 * i]!, p[2 * i + 1]!, OP_READ, true, false)) s += u16[(full.paLo - DATA_BASE) >>> 1]!; return s; };
  if (size === 4) return () => { let s = 0; for (let i = 0; i < N; i++) if (full.translate(p[2 * i]!, p[2 * i + 1]!, OP_READ, true, false)) s += u32[(full.paLo - DATA_BASE) >>> 2]!; return s; };
  return () => { let s = 0; for (let i = 0; i < N; i++) if (full.translate(p[2 * i]!, p[2 * i + 1]!, OP_READ, true, false)) { const k = (full.paLo - DATA_BASE) >>> 2; s += u32[k]! + u32[k + 1]!; } return s; };
}

/** The yardstick, then a store of `size` bytes. */
function yardStores(hot: ArrayBuffer, p: Uint32Array, size: Size): () => void {
  const u8 = new Uint8Array(hot);
  const u16 = new Uint16Array(hot);
  const u32 = new Uint32Array(hot);
  if (size === 1) return () => { for (let i = 0; i < N; i++) { const pa = walk(VA_HI, p[2 * i]!, true); if (pa !== -1) u8[pa - DATA_BASE] = 0x5a; } };
  if (size === 2) return () => { for (let i = 0; i < N; i++) { const pa = walk(VA_HI, p[2 * i]!, true); if (pa !== -1) u16[(pa - DATA_BASE) >>> 1] = 0x5a; } };
  if (size === 4) return () => { for (let i = 0; i < N; i++) { const pa = walk(VA_HI, p[2 * i]!, true); if (pa !== -1) u32[(pa - DATA_BASE) >>> 2] = 0x5a; } };
  return () => { for (let i = 0; i < N; i++) { const pa = walk(VA_HI, p[2 * i]!, true); if (pa !== -1) { const k = (pa - DATA_BASE) >>> 2; u32[k] = 0x5a; u32[k + 1] = 0; } } };
}

/** The full walker, then the same stores. */
function fullStores(hot: ArrayBuffer, p: Uint32Array, size: Size, full: FullWalker): () => void {
  const u8 = new Uint8Array(hot);
  const u16 = new Uint16Array(hot);
  const u32 = new Uint32Array(hot);
  if (size === 1) return () => { for (let i = 0; i < N; i++) if (full.translate(p[2 * i]!, p[2 * i + 1]!, OP_WRITE, true, false)) u8[full.paLo - DATA_BASE] = 0x5a; };
  if (size === 2) return () => { for (let i = 0; i < N; i++) if (full.translate(p[2 * i]!, p[2 * i + 1]!, OP_WRITE, true, false)) u16[(full.paLo - DATA_BASE) >>> 1] = 0x5a; };
  if (size === 4) return () => { for (let i = 0; i < N; i++) if (full.translate(p[2 * i]!, p[2 * i + 1]!, OP_WRITE, true, false)) u32[(full.paLo - DATA_BASE) >>> 2] = 0x5a; };
  return () => { for (let i = 0; i < N; i++) if (full.translate(p[2 * i]!, p[2 * i + 1]!, OP_WRITE, true, false)) { const k = (full.paLo - DATA_BASE) >>> 2; u32[k] = 0x5a; u32[k + 1] = 0; } };
}

function loadCases(w: YardstickWorld, set: AddrSet, size: Size): BenchCase[] {
  const { mmu } = w;
  const acc = x86.encodeAccess({ op: "read", size, cpl: 3 });
  const batch = mmu.batch(N);
  batch.input.set(set.bigs);
  const full = new FullWalker(w.fullConfig);
  const p = set.pairs;
  const yard = yardLoads(w.hotData, p, size);
  const fullLoop = fullLoads(w.hotData, p, size, full);
  const nums = set.nums;
  const bigs = set.bigs;
  const base = "baseline: minimal walker (shared yardstick) + load";
  return [
    {
      name: base,
      unit: "access",
      units: N,
      fn: () => consume(yard()),
    },
    { name: "baseline: full TS walker + load", unit: "access", units: N, baseline: base, fn: () => consume(fullLoop()) },
    { name: "x86mmu batch load", unit: "access", units: N, baseline: base, fn: () => consume(batch.load(N, acc)) },
    size === 8
      ? {
          name: "x86mmu read (bigint), 1 call/access",
          unit: "access",
          units: N,
          baseline: base,
          fn: () => {
            for (let i = 0; i < N; i++) mmu.read(bigs[i]!, 8, { cpl: 3 });
          },
        }
      : {
          name: "x86mmu loadNumber, 1 call/access",
          unit: "access",
          units: N,
          baseline: base,
          fn: () => {
            let s = 0;
            for (let i = 0; i < N; i++) s += mmu.loadNumber(nums[i]!, acc);
            consume(s);
          },
        },
  ];
}

function storeCases(w: YardstickWorld, set: AddrSet, size: Size): BenchCase[] {
  const { mmu } = w;
  const acc = x86.encodeAccess({ op: "write", size, cpl: 3 });
  const batch = mmu.batch(N);
  batch.input.set(set.bigs);
  batch.values.fill(0x5an);
  const full = new FullWalker(w.fullConfig);
  const p = set.pairs;
  const yard = yardStores(w.hotData, p, size);
  const fullLoop = fullStores(w.hotData, p, size, full);
  const nums = set.nums;
  const bigs = set.bigs;
  const base = "baseline: minimal walker (shared yardstick) + store";
  return [
    {
      name: base,
      unit: "access",
      units: N,
      fn: yard,
    },
    { name: "baseline: full TS walker + store", unit: "access", units: N, baseline: base, fn: fullLoop },
    { name: "x86mmu batch store", unit: "access", units: N, baseline: base, fn: () => consume(batch.store(N, acc)) },
    size === 8
      ? {
          name: "x86mmu write (bigint), 1 call/access",
          unit: "access",
          units: N,
          baseline: base,
          fn: () => {
            for (let i = 0; i < N; i++) mmu.write(bigs[i]!, 8, 0x5an, { cpl: 3 });
          },
        }
      : {
          name: "x86mmu storeNumber, 1 call/access",
          unit: "access",
          units: N,
          baseline: base,
          fn: () => {
            for (let i = 0; i < N; i++) mmu.storeNumber(nums[i]!, acc, 0x5a);
          },
        },
  ];
}

/** The core's loads must return what the baselines' RAM holds (same bytes, same work). */
function check(w: YardstickWorld, set: AddrSet): void {
  const dv = new DataView(w.hotData);
  for (const size of [1, 2, 4, 8] as const) {
    const batch = w.mmu.batch(N);
    batch.input.set(set.bigs);
    const done = batch.load(N, x86.encodeAccess({ op: "read", size, cpl: 3 }));
    if (done !== N) throw new Error(`bench: batch load of ${size} bytes stopped at ${done}`);
    for (let i = 0; i < N; i++) {
      const pa = walk(VA_HI, set.pairs[2 * i]!, true) - DATA_BASE;
      const v = size === 1 ? BigInt(dv.getUint8(pa)) : size === 2 ? BigInt(dv.getUint16(pa, true)) : size === 4 ? BigInt(dv.getUint32(pa, true)) : dv.getBigUint64(pa, true);
      if (v !== batch.output[i]) throw new Error(`bench: load ${size} at 0x${set.bigs[i]!.toString(16)}: core 0x${batch.output[i]!.toString(16)}, flat 0x${v.toString(16)}`);
    }
  }
}

/** The whole 1 GiB with contents: a buffer for the yardstick, the same bytes in the core's frames. */
function fillGiB(w: YardstickWorld): ArrayBuffer {
  const flat = new ArrayBuffer(GIB);
  const u32 = new Uint32Array(flat);
  for (let i = 0; i < u32.length; i++) u32[i] = Math.imul(i, 0x9e3779b1) >>> 0;
  const u8 = new Uint8Array(flat);
  const chunk = 16 * 1024 * 1024;
  for (let off = 0; off < GIB; off += chunk) w.mmu.memory.writeBytes(BigInt(DATA_BASE + off), u8.subarray(off, off + chunk));
  return flat;
}

async function randomLoadGroup(ctx: Ctx, w: YardstickWorld): Promise<void> {
  const los = addresses(N, GIB, 54321);
  const set = yardSet(los);
  const flat = fillGiB(w);
  const u32 = new Uint32Array(flat);
  const acc = x86.encodeAccess({ op: "read", size: 8, cpl: 3 });
  const batch = w.mmu.batch(N);
  batch.input.set(set.bigs);
  if (batch.load(N, acc) !== N) throw new Error("bench: random 8-byte loads faulted");
  const dv = new DataView(flat);
  for (let i = 0; i < N; i++) {
    const want = dv.getBigUint64(walk(VA_HI, los[i]!, true) - DATA_BASE, true);
    if (batch.output[i] !== want) throw new Error(`bench: random load at 0x${set.bigs[i]!.toString(16)}: core 0x${batch.output[i]!.toString(16)}, flat 0x${want.toString(16)}`);
  }
  const base = "baseline: minimal walker (shared yardstick) + load";
  await interleavedGroup(ctx, "access", "fused load, 8 bytes, 1 GiB random", [
    {
      name: base,
      unit: "access",
      units: N,
      fn: () => {
        let s = 0;
        for (let i = 0; i < N; i++) {
          const pa = walk(VA_HI, los[i]!, true);
          if (pa !== -1) {
            const k = (pa - DATA_BASE) >>> 2;
            s += u32[k]! + u32[k + 1]!; // both halves read
          }
        }
        consume(s);
      },
    },
    { name: "x86mmu batch load", unit: "access", units: N, baseline: base, fn: () => consume(batch.load(N, acc)) },
  ]);
}

export async function run(ctx: Ctx): Promise<void> {
  const w = buildYardstickWorld();
  const set = yardSet(addresses(N, HOT_SPAN, 41));
  check(w, set);
  for (const size of [1, 2, 4, 8] as const) await interleavedGroup(ctx, "access", `fused load, ${size} byte${size > 1 ? "s" : ""}, TLB hit`, loadCases(w, set, size));
  for (const size of [1, 2, 4, 8] as const) await interleavedGroup(ctx, "access", `fused store, ${size} byte${size > 1 ? "s" : ""}, TLB hit`, storeCases(w, set, size));
  await randomLoadGroup(ctx, w);
}
