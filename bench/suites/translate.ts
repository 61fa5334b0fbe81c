/**
 * Translate suites.
 *
 * TLB hit: 4096 random addresses over the 64-page hot set, translated for a
 * CPL 3 read with every check on (the world's registers). The core runs them
 * as one batch (addresses in linear memory), one `translateNumber` call per
 * address, and one bigint `translate` call per address; the baselines walk
 * the same tables for every address.
 *
 * TLB miss: 4096 addresses on distinct pages, the TLB flushed before each
 * batch, so every translation in the core is a full page walk (with A/D
 * handling); the flush is inside the timed operation (see the "flushTlb
 * alone" row for its share). Sets: "hot tables" (16 MiB, 8 page tables that
 * stay in cache) and "1 GiB random" over 4 KiB pages (tables scattered) and
 * over 2 MiB pages.
 */

import { x86 } from "../lib.js";
import { bennyGroup, consume, type BenchCase, type Ctx } from "../harness.js";
import { MinimalWalker } from "../baselines/minimal-walker.js";
import { FullWalker, OP_READ } from "../baselines/full-walker.js";
import { buildWorld, hotSet, distinctPages, MISS4K_VA, MISS2M_VA, GIB, MIB, type World, type AddrSet } from "../world.js";
import { refWalker } from "../lib.js";

const N = 4096;
const NREF = 256;
export const ACC_READ_USER = x86.encodeAccess({ op: "read", cpl: 3 });

/** Checks that the core and both walkers agree on every address (so they do the same work). */
export function crossCheck(w: World, set: AddrSet, what: string): void {
  const mmu = w.mmu;
  const batch = mmu.batch(set.n);
  batch.input.set(set.bigs);
  const faults = batch.translate(set.n, ACC_READ_USER);
  if (faults !== 0) throw new Error(`bench: ${what}: ${faults} faults in the core`);
  const out = batch.output;
  const min = new MinimalWalker(new Uint32Array(w.flat.slice(0)), Number(w.root), w.levels);
  const full = new FullWalker({ ...w.fullConfig, mem: new Uint32Array(w.flat.slice(0)) });
  for (let i = 0; i < set.n; i++) {
    const lo = set.pairs[2 * i]!;
    const hi = set.pairs[2 * i + 1]!;
    if (!min.translate(lo, hi, true)) throw new Error(`bench: ${what}: the minimal walker faults at 0x${set.bigs[i]!.toString(16)}`);
    const m = (BigInt(min.paHi) << 32n) | BigInt(min.paLo);
    if (!full.translate(lo, hi, OP_READ, true, false)) throw new Error(`bench: ${what}: the full walker faults (${full.errorCode}) at 0x${set.bigs[i]!.toString(16)}`);
    const f = (BigInt(full.paHi) << 32n) | BigInt(full.paLo);
    if (m !== out[i] || f !== out[i]) throw new Error(`bench: ${what}: walkers disagree at 0x${set.bigs[i]!.toString(16)}: core 0x${out[i]!.toString(16)} minimal 0x${m.toString(16)} full 0x${f.toString(16)}`);
  }
  const r = refWalker.walk(w.refCpu, w.refMem(), { va: set.bigs[0]!, op: "read", cpl: 3, ac: false });
  if (!r.ok || r.pa !== out[0]) throw new Error(`bench: ${what}: the reference walker disagrees`);
}

/** The baseline cases over `set`: minimal walker (the group's baseline), full walker, reference walker. */
export function walkerCases(w: World, set: AddrSet): BenchCase[] {
  const min = new MinimalWalker(w.flat32, Number(w.root), w.levels);
  const full = new FullWalker(w.fullConfig);
  const out = new Uint32Array(2 * set.n);
  const refMem = w.refMem();
  const cpu = w.refCpu;
  const refInputs = set.bigs.slice(0, NREF).map((va) => ({ va, op: "read" as const, cpl: 3 as const, ac: false }));
  return [
    { name: "baseline: minimal TS walker", unit: "address", units: set.n, fn: () => consume(min.translateBatch(set.pairs, out, set.n, true)) },
    { name: "baseline: full TS walker", unit: "address", units: set.n, baseline: "baseline: minimal TS walker", fn: () => consume(full.translateBatch(set.pairs, out, set.n, OP_READ, true, false)) },
    {
      name: "baseline: src/reference walker",
      unit: "address",
      units: NREF,
      baseline: "baseline: minimal TS walker",
      fn: () => {
        for (let i = 0; i < NREF; i++) refWalker.walk(cpu, refMem, refInputs[i]!);
      },
    },
  ];
}

function coreHitCases(w: World, set: AddrSet, flush: boolean): BenchCase[] {
  const mmu = w.mmu;
  const batch = mmu.batch(set.n);
  batch.input.set(set.bigs);
  const nums = set.nums;
  const bigs = set.bigs;
  const n = set.n;
  const base = "baseline: minimal TS walker";
  const acc = ACC_READ_USER;
  const cases: BenchCase[] = [
    {
      name: "x86mmu batch translate",
      unit: "address",
      units: n,
      baseline: base,
      fn: flush ? () => (mmu.flushTlb(), consume(batch.translate(n, acc))) : () => consume(batch.translate(n, acc)),
    },
    {
      name: "x86mmu translateNumber, 1 call/address",
      unit: "address",
      units: n,
      baseline: base,
      fn: () => {
        if (flush) mmu.flushTlb();
        let s = 0;
        for (let i = 0; i < n; i++) s += mmu.translateNumber(nums[i]!, acc);
        consume(s);
      },
    },
    {
      name: "x86mmu translate (bigint), 1 call/address",
      unit: "address",
      units: n,
      baseline: base,
      fn: () => {
        if (flush) mmu.flushTlb();
        for (let i = 0; i < n; i++) mmu.translate(bigs[i]!, acc);
      },
    },
  ];
  if (flush) cases.push({ name: "flushTlb alone (share per address)", unit: "address", units: n, fn: () => mmu.flushTlb() });
  return cases;
}

export async function run(ctx: Ctx): Promise<void> {
  for (const levels of [4, 5] as const) {
    const w = buildWorld(levels);
    const hot = hotSet(w, N, 17);
    crossCheck(w, hot, `${levels}-level hot set`);
    await bennyGroup(ctx, "translate", `TLB hit, ${levels}-level, 64-page hot set`, [...walkerCases(w, hot), ...coreHitCases(w, hot, false)]);

    const missSets: [string, AddrSet][] = [
      ["TLB miss, hot tables (16 MiB, 4K pages)", distinctPages(MISS4K_VA, 16 * MIB, N, 23)],
      ["TLB miss, 1 GiB random, 4K pages", distinctPages(MISS4K_VA, GIB, N, 29)],
    ];
    if (levels === 4) missSets.push(["TLB miss, 1 GiB random, 2M pages", distinctPages(MISS2M_VA, GIB, N, 31)]);
    for (const [label, set] of missSets) {
      crossCheck(w, set, `${levels}-level ${label}`);
      await bennyGroup(ctx, "translate", `${label}, ${levels}-level`, [...walkerCases(w, set), ...coreHitCases(w, set, true)]);
    }
  }
}
