/**
 * Fused translate-and-load / translate-and-store of 1, 2, 4 and 8 bytes, what
 * an emulator does per guest memory instruction: 4096 random aligned
 * addresses over the 64-page hot set (TLB hits), CPL 3, every check on.
 *
 * x86mmu: one batch call (`Batch.load` / `Batch.store`), or one call per
 * access (`loadNumber` / `storeNumber` for 1, 2, 4 bytes; the bigint
 * `read` / `write` for 8 bytes, the only single-call 8-byte API). Baselines:
 * the minimal and the full TypeScript walker followed by the typed-array
 * load or store on the flat physical memory.
 */

import { x86 } from "../lib.js";
import { bennyGroup, consume, type BenchCase, type Ctx } from "../harness.js";
import { MinimalWalker } from "../baselines/minimal-walker.js";
import { FullWalker, OP_READ, OP_WRITE } from "../baselines/full-walker.js";
import { buildWorld, hotSet, type AddrSet, type World } from "../world.js";

const N = 4096;
type Size = 1 | 2 | 4 | 8;

/** Loads of `size` bytes at physical hi:lo from the flat memory (RAM below 4 GiB: hi is 0). */
function loader(flat: ArrayBuffer, size: Size): (pa: number) => number {
  const u8 = new Uint8Array(flat);
  const u16 = new Uint16Array(flat);
  const u32 = new Uint32Array(flat);
  if (size === 1) return (pa) => u8[pa]!;
  if (size === 2) return (pa) => u16[pa >>> 1]!;
  if (size === 4) return (pa) => u32[pa >>> 2]!;
  return (pa) => u32[pa >>> 2]! + u32[(pa >>> 2) + 1]!; // both halves read
}

function storer(flat: ArrayBuffer, size: Size): (pa: number, v: number) => void {
  const u8 = new Uint8Array(flat);
  const u16 = new Uint16Array(flat);
  const u32 = new Uint32Array(flat);
  if (size === 1) return (pa, v) => void (u8[pa] = v);
  if (size === 2) return (pa, v) => void (u16[pa >>> 1] = v);
  if (size === 4) return (pa, v) => void (u32[pa >>> 2] = v);
  return (pa, v) => {
    u32[pa >>> 2] = v;
    u32[(pa >>> 2) + 1] = v;
  };
}

function loadCases(w: World, set: AddrSet, size: Size): BenchCase[] {
  const { mmu } = w;
  const acc = x86.encodeAccess({ op: "read", size, cpl: 3 });
  const batch = mmu.batch(N);
  batch.input.set(set.bigs);
  const min = new MinimalWalker(w.flat32, Number(w.root), w.levels);
  const full = new FullWalker(w.fullConfig);
  const ld = loader(w.flat, size);
  const p = set.pairs;
  const nums = set.nums;
  const bigs = set.bigs;
  const base = "baseline: minimal TS walker + load";
  return [
    {
      name: base,
      unit: "access",
      units: N,
      fn: () => {
        let s = 0;
        for (let i = 0; i < N; i++) if (min.translate(p[2 * i]!, p[2 * i + 1]!, true)) s += ld(min.paLo);
        consume(s);
      },
    },
    {
      name: "baseline: full TS walker + load",
      unit: "access",
      units: N,
      baseline: base,
      fn: () => {
        let s = 0;
        for (let i = 0; i < N; i++) if (full.translate(p[2 * i]!, p[2 * i + 1]!, OP_READ, true, false)) s += ld(full.paLo);
        consume(s);
      },
    },
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

function storeCases(w: World, set: AddrSet, size: Size): BenchCase[] {
  const { mmu } = w;
  const acc = x86.encodeAccess({ op: "write", size, cpl: 3 });
  const batch = mmu.batch(N);
  batch.input.set(set.bigs);
  batch.values.fill(0x5an);
  const min = new MinimalWalker(w.flat32, Number(w.root), w.levels);
  const full = new FullWalker(w.fullConfig);
  const st = storer(w.flat, size);
  const p = set.pairs;
  const nums = set.nums;
  const bigs = set.bigs;
  const base = "baseline: minimal TS walker + store";
  return [
    {
      name: base,
      unit: "access",
      units: N,
      fn: () => {
        for (let i = 0; i < N; i++) if (min.translate(p[2 * i]!, p[2 * i + 1]!, true)) st(min.paLo, 0x5a);
      },
    },
    {
      name: "baseline: full TS walker + store",
      unit: "access",
      units: N,
      baseline: base,
      fn: () => {
        for (let i = 0; i < N; i++) if (full.translate(p[2 * i]!, p[2 * i + 1]!, OP_WRITE, true, false)) st(full.paLo, 0x5a);
      },
    },
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

/** The core's loads must return what the flat copy holds (same bytes, same work). */
function check(w: World, set: AddrSet): void {
  const min = new MinimalWalker(w.flat32, Number(w.root), w.levels);
  const dv = new DataView(w.flat);
  for (const size of [1, 2, 4, 8] as const) {
    const batch = w.mmu.batch(N);
    batch.input.set(set.bigs);
    const done = batch.load(N, x86.encodeAccess({ op: "read", size, cpl: 3 }));
    if (done !== N) throw new Error(`bench: batch load of ${size} bytes stopped at ${done}`);
    for (let i = 0; i < N; i++) {
      min.translate(set.pairs[2 * i]!, set.pairs[2 * i + 1]!, true);
      const v = size === 1 ? BigInt(dv.getUint8(min.paLo)) : size === 2 ? BigInt(dv.getUint16(min.paLo, true)) : size === 4 ? BigInt(dv.getUint32(min.paLo, true)) : dv.getBigUint64(min.paLo, true);
      if (v !== batch.output[i]) throw new Error(`bench: load ${size} at 0x${set.bigs[i]!.toString(16)}: core 0x${batch.output[i]!.toString(16)}, flat 0x${v.toString(16)}`);
    }
  }
}

export async function run(ctx: Ctx): Promise<void> {
  const w = buildWorld(4);
  const set = hotSet(w, N, 41);
  check(w, set);
  for (const size of [1, 2, 4, 8] as const) await bennyGroup(ctx, "access", `fused load, ${size} byte${size > 1 ? "s" : ""}, TLB hit`, loadCases(w, set, size));
  for (const size of [1, 2, 4, 8] as const) await bennyGroup(ctx, "access", `fused store, ${size} byte${size > 1 ? "s" : ""}, TLB hit`, storeCases(w, set, size));
}
