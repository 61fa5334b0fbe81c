/**
 * Translate suites. Every group runs in interleaved rounds (harness
 * `interleavedGroup`: medians of ≥ 5 rounds, all cases of a group timed in
 * each round), so its ratios are measured side by side.
 *
 * 4-level, against the shared yardstick (baselines/minimal-walker.mjs, issue
 * 12, used verbatim; its `walk` is called from the plain loop `yardstickBatch`
 * below, which V8 inlines it into): the yardstick's own 1 GiB mapping, which
 * the core maps to the same frames (world.ts `buildYardstickWorld`).
 * - TLB hit: 4096 addresses from the yardstick's `addresses()` over the first
 *   64 pages; the core's batch, one `translateNumber` call per address, one
 *   bigint `translate` call per address.
 * - TLB miss: the TLB flushed before each batch (inside the timing; the
 *   "flushTlb alone" row shows its share), 4096 addresses on distinct pages
 *   of the first 16 MiB ("hot tables": 8 page tables that stay in cache), and
 *   4096 from `addresses()` over the whole 1 GiB ("1 GiB random").
 * 5-level and 2 MiB pages (world.ts `buildWorld`; the yardstick walks 4 levels
 * of 4 KiB pages only): the full TS walker is the baseline.
 * Paging modes (issue 14): 32-bit and PAE walks beside the 4-level one, the
 * same 16 MiB mapping in each mode: TLB hit and TLB miss (flushTlb per
 * batch).
 * Nested paging (issue 17): the 2-D walk against the 1-D walk of the same
 * guest tables (hot tables; 1 GiB random), guest memory on 4 KiB and on 2 MiB
 * nested pages (flushTlb per batch), and the TLB hit under NPT next to the
 * 1-D hit.
 */

import { x86, type Mmu } from "../lib.js";
import { interleavedGroup, consume, type BenchCase, type Ctx } from "../harness.js";
import { walk, addresses, VA_HI } from "../baselines/minimal-walker.mjs";
import { FullWalker, OP_READ, type FullWalkerConfig } from "../baselines/full-walker.js";
import {
  buildWorld,
  buildYardstickWorld,
  buildModeWorld,
  buildNptWorld,
  hotSet,
  distinctPages,
  yardSet,
  AddrSet,
  MISS4K_VA,
  MISS2M_VA,
  YARD_VA,
  HOT_SPAN,
  MODE_VA,
  MODE_SPAN,
  NPT_VA,
  NPT_GPA,
  NPT_HPA,
  GIB,
  MIB,
  type ModeName,
} from "../world.js";
import { refWalker, type RefPhysicalMemory } from "../lib.js";

const N = 4096;
const NREF = 256;
export const ACC_READ_USER = x86.encodeAccess({ op: "read", cpl: 3 });
export const YARDSTICK = "baseline: minimal walker (shared yardstick)";
const FULL = "baseline: full TS walker";

/**
 * The yardstick's batch: a plain loop calling the shared `walk` (inlined by
 * V8: see docs/benchmarks.md, "Inlining"). `los` are the low halves of the
 * addresses; the physical addresses (or -1) go to `out`.
 */
export function yardstickBatch(los: Uint32Array, out: Int32Array, n: number): number {
  let faults = 0;
  for (let k = 0; k < n; k++) {
    const pa = walk(VA_HI, los[k]!, true);
    out[k] = pa;
    if (pa === -1) faults++;
  }
  return faults;
}

/** Runs the core's batch over `set` once; throws on a fault; returns the outputs. */
function coreOut(mmu: Mmu, set: AddrSet, what: string): BigUint64Array {
  const batch = mmu.batch(set.n);
  batch.input.set(set.bigs);
  const faults = batch.translate(set.n, ACC_READ_USER);
  if (faults !== 0) throw new Error(`bench: ${what}: ${faults} faults in the core`);
  return batch.output.slice(0, set.n);
}

/** Core, yardstick, full walker and reference walker agree on every address of the set (so they do the same work). */
function crossCheckYard(mmu: Mmu, fullConfig: FullWalkerConfig, refCpu: Parameters<typeof refWalker.walk>[0], refMem: RefPhysicalMemory, set: AddrSet, what: string): void {
  const out = coreOut(mmu, set, what);
  const full = new FullWalker({ ...fullConfig, mem: new Uint32Array(fullConfig.mem) });
  for (let i = 0; i < set.n; i++) {
    const lo = set.pairs[2 * i]!;
    const hi = set.pairs[2 * i + 1]!;
    if (hi !== VA_HI) throw new Error(`bench: ${what}: address outside the yardstick's mapping`);
    const m = walk(hi, lo, true);
    if (m === -1) throw new Error(`bench: ${what}: the yardstick faults at 0x${set.bigs[i]!.toString(16)}`);
    if (!full.translate(lo, hi, OP_READ, true, false)) throw new Error(`bench: ${what}: the full walker faults (${full.errorCode}) at 0x${set.bigs[i]!.toString(16)}`);
    const f = (BigInt(full.paHi) << 32n) | BigInt(full.paLo);
    if (BigInt(m) !== out[i] || f !== out[i]) throw new Error(`bench: ${what}: walkers disagree at 0x${set.bigs[i]!.toString(16)}: core 0x${out[i]!.toString(16)} yardstick 0x${m.toString(16)} full 0x${f.toString(16)}`);
  }
  const r = refWalker.walk(refCpu, refMem, { va: set.bigs[0]!, op: "read", cpl: 3, ac: false });
  if (!r.ok || r.pa !== out[0]) throw new Error(`bench: ${what}: the reference walker disagrees`);
}

/** Core, full walker and reference walker agree (5-level and 2 MiB worlds). */
function crossCheckFull(w: ReturnType<typeof buildWorld>, set: AddrSet, what: string): void {
  const out = coreOut(w.mmu, set, what);
  const full = new FullWalker({ ...w.fullConfig, mem: new Uint32Array(w.flat.slice(0)) });
  for (let i = 0; i < set.n; i++) {
    if (!full.translate(set.pairs[2 * i]!, set.pairs[2 * i + 1]!, OP_READ, true, false)) throw new Error(`bench: ${what}: the full walker faults (${full.errorCode})`);
    const f = (BigInt(full.paHi) << 32n) | BigInt(full.paLo);
    if (f !== out[i]) throw new Error(`bench: ${what}: walkers disagree at 0x${set.bigs[i]!.toString(16)}: core 0x${out[i]!.toString(16)} full 0x${f.toString(16)}`);
  }
  const r = refWalker.walk(w.refCpu, w.refMem(), { va: set.bigs[0]!, op: "read", cpl: 3, ac: false });
  if (!r.ok || r.pa !== out[0]) throw new Error(`bench: ${what}: the reference walker disagrees`);
}

function refCase(refCpu: Parameters<typeof refWalker.walk>[0], refMem: RefPhysicalMemory, set: AddrSet, baseline: string): BenchCase {
  const refInputs = set.bigs.slice(0, NREF).map((va) => ({ va, op: "read" as const, cpl: 3 as const, ac: false }));
  return {
    name: "baseline: src/reference walker",
    unit: "address",
    units: NREF,
    baseline,
    fn: () => {
      for (let i = 0; i < NREF; i++) refWalker.walk(refCpu, refMem, refInputs[i]!);
    },
  };
}

/** The full-check walker's batch (flush: its TLB emptied before each, as the core's is). */
function fullCase(config: FullWalkerConfig, set: AddrSet, flush: boolean, baseline?: string): BenchCase {
  const full = new FullWalker(config);
  const out = new Uint32Array(2 * set.n);
  const fn = flush ? () => (full.flush(), consume(full.translateBatch(set.pairs, out, set.n, OP_READ, true, false))) : () => consume(full.translateBatch(set.pairs, out, set.n, OP_READ, true, false));
  return { name: FULL, unit: "address", units: set.n, baseline, fn };
}

/** The core's cases over `set` (flush: flushTlb before each operation, so every translation walks). */
function coreCases(mmu: Mmu, set: AddrSet, flush: boolean, base: string): BenchCase[] {
  const batch = mmu.batch(set.n);
  batch.input.set(set.bigs);
  const nums = set.nums;
  const bigs = set.bigs;
  const n = set.n;
  const acc = ACC_READ_USER;
  const cases: BenchCase[] = [
    { name: "x86mmu batch translate", unit: "address", units: n, baseline: base, fn: flush ? () => (mmu.flushTlb(), consume(batch.translate(n, acc))) : () => consume(batch.translate(n, acc)) },
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

/**
 * How each operation starts: "none" (TLB hits) or "flushTlb" (every
 * translation misses the TLB; flushTlb empties the paging-structure caches
 * too, but the batch refills them: after the first walk through a PDE, the
 * other pages under it start from the PDE cache, as on hardware; the
 * "PDE-cache starts/walk" extra counts them).
 */
type Start = "none" | "flushTlb";

/** A core batch case named `name`, with the walk statistics of one operation as extras. */
function batchCase(mmu: Mmu, set: AddrSet, start: Start, name: string, baseline?: string): BenchCase {
  const batch = mmu.batch(set.n);
  batch.input.set(set.bigs);
  const n = set.n;
  const fn = start === "flushTlb" ? () => (mmu.flushTlb(), consume(batch.translate(n, ACC_READ_USER))) : () => consume(batch.translate(n, ACC_READ_USER));
  fn();
  mmu.resetTlbStats();
  fn();
  const s = mmu.tlbStats();
  const extra: Record<string, string> = { "walks/address": (s.walks / n).toFixed(3), "entries read/walk": s.walks ? (s.entriesRead / s.walks).toFixed(2) : "-" };
  if (s.pscHits) extra["PDE-cache starts/walk"] = (s.pscHits / s.walks).toFixed(2);
  return { name, unit: "address", units: n, baseline, fn, extra };
}

async function yardstickGroups(ctx: Ctx): Promise<void> {
  const y = buildYardstickWorld();
  const refMem = y.refMem();
  const hotLos = addresses(N, HOT_SPAN, 12345);
  const missHot = distinctPages(YARD_VA, 16 * MIB, N, 23);
  const randLos = addresses(N, GIB, 54321);
  const sets: [string, Uint32Array, AddrSet, boolean][] = [
    ["TLB hit, 4-level, 64-page hot set", hotLos, yardSet(hotLos), false],
    ["TLB miss, hot tables (16 MiB, 4K pages), 4-level", Uint32Array.from(missHot.pairs.filter((_, i) => i % 2 === 0)), missHot, true],
    ["TLB miss, 1 GiB random, 4K pages, 4-level", randLos, yardSet(randLos), true],
  ];
  for (const [group, los, set, flush] of sets) {
    crossCheckYard(y.mmu, y.fullConfig, y.refCpu, refMem, set, group);
    const out = new Int32Array(N);
    const cases: BenchCase[] = [
      { name: YARDSTICK, unit: "address", units: N, fn: () => consume(yardstickBatch(los, out, N)) },
      fullCase(y.fullConfig, set, flush, YARDSTICK),
      refCase(y.refCpu, refMem, set, YARDSTICK),
      ...coreCases(y.mmu, set, flush, YARDSTICK),
    ];
    await interleavedGroup(ctx, "translate", group, cases);
  }
}

async function fullBaselineGroups(ctx: Ctx): Promise<void> {
  const w5 = buildWorld(5);
  const hot = hotSet(w5, N, 17);
  const groups: [string, ReturnType<typeof buildWorld>, AddrSet, boolean][] = [
    ["TLB hit, 5-level, 64-page hot set", w5, hot, false],
    ["TLB miss, hot tables (16 MiB, 4K pages), 5-level", w5, distinctPages(MISS4K_VA, 16 * MIB, N, 23), true],
    ["TLB miss, 1 GiB random, 4K pages, 5-level", w5, distinctPages(MISS4K_VA, GIB, N, 29), true],
  ];
  for (const [group, w, set, flush] of groups) {
    crossCheckFull(w, set, group);
    await interleavedGroup(ctx, "translate", group, [fullCase(w.fullConfig, set, flush), refCase(w.refCpu, w.refMem(), set, FULL), ...coreCases(w.mmu, set, flush, FULL)]);
  }
  const w4 = buildWorld(4);
  const set2m = distinctPages(MISS2M_VA, GIB, N, 31);
  const group = "TLB miss, 1 GiB random, 2M pages, 4-level";
  crossCheckFull(w4, set2m, group);
  await interleavedGroup(ctx, "translate", group, [fullCase(w4.fullConfig, set2m, true), refCase(w4.refCpu, w4.refMem(), set2m, FULL), ...coreCases(w4.mmu, set2m, true, FULL)]);
}

async function modeGroups(ctx: Ctx): Promise<void> {
  const modes: ModeName[] = ["4-level", "pae", "32-bit"];
  const mmus = modes.map((m) => buildModeWorld(m));
  const hot = new AddrSet(Array.from(addresses(N, HOT_SPAN, 12345), (lo) => MODE_VA + lo));
  const miss = distinctPages(MODE_VA, MODE_SPAN, N, 23);
  for (const [label, set, start] of [
    ["TLB hit, 64-page hot set", hot, "none"],
    ["TLB miss, hot tables (16 MiB, 4K pages), flushTlb per batch", miss, "flushTlb"],
  ] as const) {
    const ref = coreOut(mmus[0]!, set, `4-level ${label}`);
    mmus.forEach((m, i) => {
      const o = coreOut(m, set, `${modes[i]} ${label}`);
      for (let k = 0; k < set.n; k++) if (o[k] !== ref[k]) throw new Error(`bench: ${modes[i]} ${label}: 0x${o[k]!.toString(16)} where 4-level gives 0x${ref[k]!.toString(16)}`);
    });
    const base = "x86mmu batch, 4-level walk";
    await interleavedGroup(ctx, "translate", `paging modes: ${label}`, [
      batchCase(mmus[0]!, set, start, base),
      batchCase(mmus[1]!, set, start, "x86mmu batch, PAE walk", base),
      batchCase(mmus[2]!, set, start, "x86mmu batch, 32-bit walk", base),
    ]);
  }
}

async function nptGroups(ctx: Ctx): Promise<void> {
  const one = buildNptWorld("none");
  const n4k = buildNptWorld("4K");
  const n2m = buildNptWorld("2M");
  const hot = new AddrSet(Array.from(addresses(N, HOT_SPAN, 12345), (lo) => NPT_VA + lo));
  const missHot = distinctPages(NPT_VA, 16 * MIB, N, 23);
  const rand = new AddrSet(Array.from(addresses(N, GIB, 54321), (lo) => NPT_VA + lo));
  const base = "x86mmu batch, 1-D walk (no NPT)";
  for (const [label, set, start] of [
    ["TLB hit, 64-page hot set", hot, "none"],
    ["TLB miss, hot tables (16 MiB), flushTlb per batch", missHot, "flushTlb"],
    ["TLB miss, 1 GiB random, flushTlb per batch", rand, "flushTlb"],
  ] as const) {
    const gpa = coreOut(one, set, `1-D ${label}`);
    for (const [m, what] of [
      [n4k, "4K"],
      [n2m, "2M"],
    ] as const) {
      const hpa = coreOut(m, set, `2-D (${what}) ${label}`);
      for (let k = 0; k < set.n; k++) {
        if (hpa[k] !== gpa[k]! - BigInt(NPT_GPA) + BigInt(NPT_HPA)) throw new Error(`bench: NPT ${what} ${label}: host-physical 0x${hpa[k]!.toString(16)} for guest-physical 0x${gpa[k]!.toString(16)}`);
      }
    }
    await interleavedGroup(ctx, "translate", `nested paging: ${label}`, [
      batchCase(one, set, start, base),
      batchCase(n4k, set, start, "x86mmu batch, 2-D walk, 4 KiB nested pages", base),
      batchCase(n2m, set, start, "x86mmu batch, 2-D walk, 2 MiB nested pages", base),
    ]);
  }
}

export async function run(ctx: Ctx): Promise<void> {
  await yardstickGroups(ctx);
  await fullBaselineGroups(ctx);
  await modeGroups(ctx);
  await nptGroups(ctx);
}
