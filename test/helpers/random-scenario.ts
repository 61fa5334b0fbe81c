/**
 * Random scenarios (docs/scenario-format.md, public JSON form) for the
 * property tests that compare the engines with each other.
 *
 * A scenario is generated as a {@link Plan} (plain data drawn by fast-check,
 * so that it shrinks well) and then built deterministically by
 * {@link buildScenario}:
 *
 * - cpu: long mode always, random CR0.WP, CR4.LA57/SMEP/SMAP/PKE/PKS/PGE,
 *   EFER.NXE, PKRU, PKRS, MAXPHYADDR from {36, 39, 40, 46, 48, 52}, random
 *   CR3.PWT/PCD;
 * - page tables: a root and a tree of 2-6 paths (4- or 5-level per LA57),
 *   each ending in a 4 KiB, 2 MiB or 1 GiB leaf; paths share tables when
 *   their upper indices agree (indices are drawn from a small pool most of
 *   the time); table frames are distinct 4 KiB frames below 4 GiB;
 * - entries: random P (mostly set), RW, US, PWT, PCD, A, D, G, XD, PAT, and
 *   protection key bits 62:59; now and then one reserved bit (an address bit
 *   at or above MAXPHYADDR, PS in a PML4E/PML5E, a low frame bit of a large
 *   page; XD with NXE=0 comes on its own);
 * - a root slot pointing to the root itself (self-reference: accesses through
 *   it read and write the page tables), and 4 KiB leaves that alias another
 *   path's data page or one of the page tables; large pages may also cover
 *   table frames;
 * - data pages full of random qwords (a PRNG seeded by the plan);
 * - 1-8 accesses: read/write/fetch, size 1/2/4/8 (fetch 1), CPL 0/3, random
 *   AC; the address mostly inside a mapped path (sometimes at a page end, so
 *   that it crosses into the next page), through the self-reference, or
 *   non-canonical, or random; write values that fit the size.
 *
 * Memory is kept as 4 KiB frames of 512 words, and each frame becomes one
 * region (its first to last non-zero word), so regions never overlap and are
 * always 8-byte aligned.
 */
import fc from "fast-check";
import { xorshift32 } from "./xorshift.mjs";
import {
  CR0_PE_BIT,
  CR0_PG_BIT,
  CR0_WP_BIT,
  CR4_LA57_BIT,
  CR4_PAE_BIT,
  CR4_PGE_BIT,
  CR4_PKE_BIT,
  CR4_PKS_BIT,
  CR4_PSE_BIT,
  CR4_SMAP_BIT,
  CR4_SMEP_BIT,
  EFER_LMA_BIT,
  EFER_LME_BIT,
  EFER_NXE_BIT,
  ENTRIES_PER_TABLE,
  LEVEL_PD,
  LEVEL_PDPT,
  LEVEL_PML4,
  LEVEL_PT,
  MAXPHYADDR_MAX,
  PAGE_SHIFT,
  PAGE_SIZE,
  PTE_A_BIT,
  PTE_ADDR_TOP_BIT,
  PTE_D_BIT,
  PTE_G_BIT,
  PTE_P_BIT,
  PTE_PAT_LARGE_BIT,
  PTE_PCD_BIT,
  PTE_PK_SHIFT,
  PTE_PS_BIT,
  PTE_PWT_BIT,
  PTE_RW_BIT,
  PTE_US_BIT,
  PTE_XD_BIT,
} from "../../src/arch/bits.js";

// ---------------------------------------------------------------------------
// Plan: what fast-check draws

export interface CpuPlan {
  wp: boolean;
  la57: boolean;
  smep: boolean;
  smap: boolean;
  pke: boolean;
  pks: boolean;
  pge: boolean;
  nxe: boolean;
  pkru: number;
  pkrs: number;
  maxphyaddr: number;
  cr3Pwt: boolean;
  cr3Pcd: boolean;
}

/** One reserved bit to set in an entry, if it applies to that entry. */
export type ReservedPlan =
  | { kind: "none" }
  /** An address bit at or above MAXPHYADDR (bit = maxphyaddr + n mod (52 - maxphyaddr)). */
  | { kind: "addrHigh"; n: number }
  /** PS in a PML4E or PML5E (only applied to a non-leaf entry at those levels). */
  | { kind: "psTop" }
  /** A low frame bit of a 2 MiB or 1 GiB leaf (bit 13 + n, below the page size). */
  | { kind: "largeLow"; n: number };

export interface EntryPlan {
  p: boolean;
  rw: boolean;
  us: boolean;
  pwt: boolean;
  pcd: boolean;
  a: boolean;
  d: boolean;
  g: boolean;
  /** Bit 7 of a PTE (PAT) or bit 12 of a large leaf (PAT); ignored for non-leaf entries. */
  pat: boolean;
  xd: boolean;
  pk: number;
  rsvd: ReservedPlan;
}

/** Where a path's leaf points. */
export type LeafTarget =
  | { kind: "fresh" }
  /** (4 KiB leaves only) the data page of another path. */
  | { kind: "aliasData"; path: number }
  /** (4 KiB leaves only) one of the page-table frames. */
  | { kind: "aliasTable"; table: number };

export interface PathPlan {
  /** Indices from the top level down: [PML5, PML4, PDPT, PD, PT]; PML5 unused with 4-level paging. */
  indices: number[];
  /** Level of the leaf: 1 (4 KiB), 2 (2 MiB), 3 (1 GiB). */
  leafLevel: number;
  /** Entries from the top level down (5 of them; the first is unused with 4-level paging). */
  entries: EntryPlan[];
  target: LeafTarget;
  /** Seed of the data page's contents; 0 leaves the page zero (and is what shrinking tends to). */
  dataSeed: number;
}

export type AccessTarget =
  /** Inside path `path`'s page at a random offset. */
  | { kind: "path"; path: number; offset: number }
  /** Near the end of path `path`'s page (back bytes before its end), so that a wide access crosses a page. */
  | { kind: "pageEnd"; path: number; back: number }
  /** Through the self-referencing slot `depth` times, landing in one of path `path`'s tables. */
  | { kind: "selfRef"; path: number; depth: number; offset: number }
  /** Path `path`'s address with a flipped bit above the canonical range. */
  | { kind: "nonCanonical"; path: number; bit: number }
  /** Any 64-bit address. */
  | { kind: "random"; va: bigint };

export interface AccessPlan {
  op: "read" | "write" | "fetch";
  size: 1 | 2 | 4 | 8;
  cpl: 0 | 3;
  ac: boolean;
  target: AccessTarget;
  value: bigint;
}

export interface Plan {
  cpu: CpuPlan;
  /** Distinct 4 KiB frame numbers below 4 GiB, used in order for the root, the tables and the data pages. */
  frames: number[];
  /** The root slot that points to the root itself, if any. */
  selfRef: { slot: number; entry: EntryPlan } | null;
  paths: PathPlan[];
  accesses: AccessPlan[];
}

// ---------------------------------------------------------------------------
// Arbitraries

const MAXPHYADDRS = [36, 39, 40, 46, 48, 52] as const;
const FRAME_LIMIT = 1 << (32 - PAGE_SHIFT); // frames below 2^min(maxphyaddr, 32) = 4 GiB
const FRAME_POOL = 40;
const u32 = fc.integer({ min: 0, max: 0xffffffff });

/** A boolean that is true with probability about num/den. */
function weighted(num: number, den: number): fc.Arbitrary<boolean> {
  return fc.integer({ min: 0, max: den - 1 }).map((x) => x < num);
}

const cpuArb: fc.Arbitrary<CpuPlan> = fc.record({
  wp: fc.boolean(),
  la57: fc.boolean(),
  smep: fc.boolean(),
  smap: fc.boolean(),
  pke: fc.boolean(),
  pks: fc.boolean(),
  pge: fc.boolean(),
  nxe: weighted(7, 8),
  pkru: fc.oneof(fc.constant(0), u32),
  pkrs: fc.oneof(fc.constant(0), u32),
  maxphyaddr: fc.constantFrom(...MAXPHYADDRS),
  cr3Pwt: weighted(1, 8),
  cr3Pcd: weighted(1, 8),
});

const reservedArb: fc.Arbitrary<ReservedPlan> = fc.oneof(
  { weight: 120, arbitrary: fc.constant({ kind: "none" as const }) },
  { weight: 1, arbitrary: fc.nat(15).map((n) => ({ kind: "addrHigh" as const, n })) },
  { weight: 1, arbitrary: fc.constant({ kind: "psTop" as const }) },
  { weight: 1, arbitrary: fc.nat(16).map((n) => ({ kind: "largeLow" as const, n })) },
);

const entryArb: fc.Arbitrary<EntryPlan> = fc.record({
  p: weighted(31, 32),
  rw: weighted(7, 8),
  us: weighted(7, 8),
  pwt: fc.boolean(),
  pcd: fc.boolean(),
  a: fc.boolean(),
  d: fc.boolean(),
  g: fc.boolean(),
  pat: weighted(1, 4),
  xd: weighted(1, 10),
  pk: fc.oneof(fc.constant(0), fc.nat(15)),
  rsvd: reservedArb,
});

/** Mostly a few well-known indices (so that paths share tables), sometimes any. */
const indexArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(0, 1, 2, 511) },
  { weight: 2, arbitrary: fc.nat(ENTRIES_PER_TABLE - 1) },
);

const pathArb: fc.Arbitrary<PathPlan> = fc.record({
  indices: fc.array(indexArb, { minLength: 5, maxLength: 5 }),
  leafLevel: fc.oneof({ weight: 4, arbitrary: fc.constant(LEVEL_PT) }, { weight: 2, arbitrary: fc.constant(LEVEL_PD) }, { weight: 1, arbitrary: fc.constant(LEVEL_PDPT) }),
  entries: fc.array(entryArb, { minLength: 5, maxLength: 5 }),
  target: fc.oneof(
    { weight: 6, arbitrary: fc.constant({ kind: "fresh" as const }) },
    { weight: 1, arbitrary: fc.nat(5).map((path) => ({ kind: "aliasData" as const, path })) },
    { weight: 1, arbitrary: fc.nat(30).map((table) => ({ kind: "aliasTable" as const, table })) },
  ),
  dataSeed: fc.option(fc.integer({ min: 1, max: 0x7fffffff }), { freq: 6, nil: 0 }),
});

const frameArb = fc.oneof(
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 64 }) },
  { weight: 3, arbitrary: fc.integer({ min: 1, max: FRAME_LIMIT - 1 }) },
);

const accessTargetArb: fc.Arbitrary<AccessTarget> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant("path" as const), path: fc.nat(5), offset: fc.nat(PAGE_SIZE - 1) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("pageEnd" as const), path: fc.nat(5), back: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("selfRef" as const), path: fc.nat(5), depth: fc.integer({ min: 1, max: 4 }), offset: fc.nat(PAGE_SIZE - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("nonCanonical" as const), path: fc.nat(5), bit: fc.integer({ min: 47, max: 63 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("random" as const), va: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }) },
);

const accessArb: fc.Arbitrary<AccessPlan> = fc
  .record({
    op: fc.constantFrom("read" as const, "write" as const, "fetch" as const),
    size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    cpl: fc.constantFrom(0 as const, 3 as const),
    ac: fc.boolean(),
    target: accessTargetArb,
    value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  })
  .map((a) => {
    const size = a.op === "fetch" ? 1 : a.size;
    return { ...a, size, value: a.op === "write" ? a.value & ((1n << BigInt(8 * size)) - 1n) : 0n };
  });

export const planArb: fc.Arbitrary<Plan> = fc.record({
  cpu: cpuArb,
  frames: fc.uniqueArray(frameArb, { minLength: FRAME_POOL, maxLength: FRAME_POOL }),
  selfRef: fc.option(fc.record({ slot: indexArb, entry: entryArb }), { freq: 2 }),
  paths: fc.array(pathArb, { minLength: 2, maxLength: 6 }),
  accesses: fc.array(accessArb, { minLength: 1, maxLength: 8 }),
});

// ---------------------------------------------------------------------------
// Building a scenario from a plan

/** The scenario's public JSON form (docs/scenario-format.md). */
export interface ScenarioJson {
  name: string;
  cpu: { cr0: string; cr3: string; cr4: string; efer: string; pkru: string; pkrs: string; maxphyaddr: number };
  memory: { paddr: string; qwords: string[] }[];
  accesses: { va: string; op: string; size?: number; cpl: number; ac: boolean; value?: string }[];
}

const hex = (v: bigint): string => "0x" + v.toString(16);
const bitOf = (n: number): bigint => 1n << BigInt(n);
const U64 = (1n << 64n) - 1n;

/** xorshift32, for data-page contents. */
function prng(seed: number): () => bigint {
  const next32 = xorshift32(seed);
  return () => (BigInt(next32()) << 32n) | BigInt(next32());
}

/** Flag bits of an entry, without address and reserved bits. */
function flagBits(e: EntryPlan, level: number, leaf: boolean): bigint {
  let v = 0n;
  if (e.p) v |= bitOf(PTE_P_BIT);
  if (e.rw) v |= bitOf(PTE_RW_BIT);
  if (e.us) v |= bitOf(PTE_US_BIT);
  if (e.pwt) v |= bitOf(PTE_PWT_BIT);
  if (e.pcd) v |= bitOf(PTE_PCD_BIT);
  if (e.a) v |= bitOf(PTE_A_BIT);
  if (e.d) v |= bitOf(PTE_D_BIT);
  if (e.g) v |= bitOf(PTE_G_BIT);
  if (e.xd) v |= bitOf(PTE_XD_BIT);
  v |= BigInt(e.pk) << BigInt(PTE_PK_SHIFT);
  if (leaf) {
    if (level === LEVEL_PT) {
      if (e.pat) v |= bitOf(PTE_PS_BIT); // PAT of a PTE
    } else {
      v |= bitOf(PTE_PS_BIT);
      if (e.pat) v |= bitOf(PTE_PAT_LARGE_BIT);
    }
  }
  return v;
}

/** The reserved bit the plan asks for, if it applies to this entry. */
function reservedBits(r: ReservedPlan, level: number, leaf: boolean, maxphyaddr: number): bigint {
  switch (r.kind) {
    case "none":
      return 0n;
    case "addrHigh": {
      const room = PTE_ADDR_TOP_BIT + 1 - maxphyaddr;
      return room > 0 ? bitOf(maxphyaddr + (r.n % room)) : 0n;
    }
    case "psTop":
      return !leaf && level >= LEVEL_PML4 ? bitOf(PTE_PS_BIT) : 0n;
    case "largeLow": {
      if (!leaf || level === LEVEL_PT) return 0n;
      const top = level === LEVEL_PD ? 20 : 29; // bits 13..20 (2 MiB) or 13..29 (1 GiB)
      return bitOf(PTE_PAT_LARGE_BIT + 1 + (r.n % (top - PTE_PAT_LARGE_BIT)));
    }
  }
}

interface Slot {
  /** The table this slot's entry points to, or null for a leaf. */
  child: bigint | null;
}

/** Canonical linear address of the given indices (top level first) and page offset. */
function linear(indices: number[], offset: bigint, levels: number): bigint {
  let va = offset;
  for (let k = 0; k < levels; k++) {
    va |= BigInt(indices[k]!) << BigInt(PAGE_SHIFT + 9 * (levels - 1 - k));
  }
  const width = PAGE_SHIFT + 9 * levels; // 48 or 57
  if ((va >> BigInt(width - 1)) & 1n) va |= U64 ^ ((1n << BigInt(width)) - 1n);
  return va;
}

/** Builds the scenario a plan describes. */
export function buildScenario(plan: Plan, name = "random"): ScenarioJson {
  const c = plan.cpu;
  const levels = c.la57 ? 5 : 4;
  const topLevel = levels; // level number of the root
  const frames: Map<bigint, bigint[]> = new Map();
  const tableFrames: bigint[] = [];
  const slots: Map<bigint, Map<number, Slot>> = new Map();
  let nextFrame = 0;
  const alloc = (): bigint => {
    // The pool has more frames than any plan uses: 1 root + 6 paths * 4 tables + 6 data pages.
    const f = plan.frames[nextFrame++ % plan.frames.length]!;
    return BigInt(f) << BigInt(PAGE_SHIFT);
  };
  const words = (frame: bigint): bigint[] => {
    let w = frames.get(frame);
    if (!w) {
      w = new Array<bigint>(ENTRIES_PER_TABLE).fill(0n);
      frames.set(frame, w);
    }
    return w;
  };
  const newTable = (): bigint => {
    const t = alloc();
    words(t);
    tableFrames.push(t);
    slots.set(t, new Map());
    return t;
  };

  const root = newTable();
  if (plan.selfRef) {
    const { slot, entry } = plan.selfRef;
    words(root)[slot] = root | flagBits(entry, topLevel, false) | reservedBits(entry.rsvd, topLevel, false, c.maxphyaddr);
    slots.get(root)!.set(slot, { child: root });
  }

  // Per path: its canonical base linear address, the linear and physical
  // address of its data page (4 KiB), and the tables it walks through.
  interface Built {
    dataVa: bigint;
    dataPa: bigint | null;
    tables: bigint[];
  }
  const built: Built[] = [];
  const pendingAliases: { path: number; table: bigint; index: number; bits: bigint; target: LeafTarget }[] = [];

  plan.paths.forEach((p, pi) => {
    const idx = p.indices.slice(5 - levels);
    const ent = p.entries.slice(5 - levels);
    let table = root;
    const tables: bigint[] = [root];
    let dataPa: bigint | null = null;
    for (let k = 0; k < levels; k++) {
      const level = topLevel - k;
      const i = idx[k]!;
      const existing = slots.get(table)!.get(i);
      if (existing) {
        if (existing.child === null) break; // an earlier path's leaf: this path ends there
        table = existing.child;
        tables.push(table);
        continue;
      }
      const e = ent[k]!;
      const leaf = level === p.leafLevel;
      const bits = flagBits(e, level, leaf) | reservedBits(e.rsvd, level, leaf, c.maxphyaddr);
      if (!leaf) {
        const child = newTable();
        words(table)[i] = child | bits;
        slots.get(table)!.set(i, { child });
        table = child;
        tables.push(child);
        continue;
      }
      slots.get(table)!.set(i, { child: null });
      if (level === LEVEL_PT && p.target.kind !== "fresh") {
        pendingAliases.push({ path: pi, table, index: i, bits, target: p.target });
        break;
      }
      const pageShift = PAGE_SHIFT + 9 * (level - 1);
      const frame = alloc() & ~((1n << BigInt(pageShift)) - 1n);
      words(table)[i] = frame | bits;
      // The 4 KiB part of the page the path's indices select.
      let sub = 0n;
      for (let j = k + 1; j < levels; j++) sub |= BigInt(idx[j]!) << BigInt(PAGE_SHIFT + 9 * (levels - 1 - j));
      dataPa = frame + sub;
      break;
    }
    built.push({ dataVa: linear(idx, 0n, levels), dataPa, tables });
  });

  // Aliasing 4 KiB leaves, now that every path's data page is known.
  for (const a of pendingAliases) {
    let frame: bigint;
    if (a.target.kind === "aliasData") {
      const other = built[a.target.path % built.length]!.dataPa;
      frame = other ?? tableFrames[0]!;
    } else {
      frame = tableFrames[(a.target.kind === "aliasTable" ? a.target.table : 0) % tableFrames.length]!;
    }
    words(a.table)[a.index] = frame | a.bits;
    built[a.path]!.dataPa = frame;
  }

  // Data pages: random words, except where the page is a page table.
  const tableSet = new Set(tableFrames);
  plan.paths.forEach((p, pi) => {
    const pa = built[pi]!.dataPa;
    if (pa === null || p.dataSeed === 0 || tableSet.has(pa) || frames.has(pa)) return;
    const next = prng(p.dataSeed);
    const w = words(pa);
    for (let j = 0; j < ENTRIES_PER_TABLE; j++) w[j] = next();
  });

  const memory: ScenarioJson["memory"] = [];
  for (const frame of [...frames.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))) {
    const w = frames.get(frame)!;
    let first = 0;
    while (first < w.length && w[first] === 0n) first++;
    if (first === w.length) continue;
    let last = w.length - 1;
    while (w[last] === 0n) last--;
    memory.push({ paddr: hex(frame + 8n * BigInt(first)), qwords: w.slice(first, last + 1).map(hex) });
  }

  const vaOf = (t: AccessTarget): bigint => {
    switch (t.kind) {
      case "path":
        return built[t.path % built.length]!.dataVa + BigInt(t.offset);
      case "pageEnd":
        return built[t.path % built.length]!.dataVa + BigInt(PAGE_SIZE - t.back);
      case "selfRef": {
        const sr = plan.selfRef;
        const p = plan.paths[t.path % plan.paths.length]!;
        const idx = p.indices.slice(5 - levels);
        if (!sr) return linear(idx, BigInt(t.offset), levels);
        const depth = Math.min(t.depth, levels - 1);
        // Shift the path's indices down by `depth` levels and put the
        // self-referencing slot on top: the walk loops `depth` times and ends
        // in the table that maps the path at level `depth`.
        const shifted = [...new Array<number>(depth).fill(sr.slot), ...idx.slice(0, levels - depth)];
        return linear(shifted, BigInt(t.offset), levels);
      }
      case "nonCanonical": {
        const va = built[t.path % built.length]!.dataVa;
        const width = PAGE_SHIFT + 9 * levels;
        return va ^ bitOf(Math.max(t.bit, width)); // a bit above the implemented range
      }
      case "random":
        return t.va;
    }
  };

  const accesses: ScenarioJson["accesses"] = plan.accesses.map((a) => {
    const o: ScenarioJson["accesses"][number] = { va: hex(vaOf(a.target) & U64), op: a.op, cpl: a.cpl, ac: a.ac };
    if (a.op !== "fetch") o.size = a.size;
    if (a.op === "write") o.value = hex(a.value);
    return o;
  });

  let cr0 = bitOf(CR0_PG_BIT) | bitOf(CR0_PE_BIT);
  if (c.wp) cr0 |= bitOf(CR0_WP_BIT);
  let cr4 = bitOf(CR4_PAE_BIT);
  if (c.la57) cr4 |= bitOf(CR4_LA57_BIT);
  if (c.smep) cr4 |= bitOf(CR4_SMEP_BIT);
  if (c.smap) cr4 |= bitOf(CR4_SMAP_BIT);
  if (c.pke) cr4 |= bitOf(CR4_PKE_BIT);
  if (c.pks) cr4 |= bitOf(CR4_PKS_BIT);
  if (c.pge) cr4 |= bitOf(CR4_PGE_BIT);
  let efer = bitOf(EFER_LME_BIT) | bitOf(EFER_LMA_BIT);
  if (c.nxe) efer |= bitOf(EFER_NXE_BIT);
  let cr3 = root;
  if (c.cr3Pwt) cr3 |= bitOf(PTE_PWT_BIT);
  if (c.cr3Pcd) cr3 |= bitOf(PTE_PCD_BIT);

  return {
    name,
    cpu: {
      cr0: hex(cr0),
      cr3: hex(cr3),
      cr4: hex(cr4),
      efer: hex(efer),
      pkru: hex(BigInt(c.pkru >>> 0)),
      pkrs: hex(BigInt(c.pkrs >>> 0)),
      maxphyaddr: Math.min(c.maxphyaddr, MAXPHYADDR_MAX),
    },
    memory,
    accesses,
  };
}

/** Random scenarios in the public JSON form. */
export const scenarioArb: fc.Arbitrary<ScenarioJson> = planArb.map((p) => buildScenario(p));

// ---------------------------------------------------------------------------
// Legacy paging modes (format version 2): 32-bit paging, PAE paging, no paging
//
// A separate plan and builder, so that the long-mode generator above stays as
// it is:
// - cpu: the mode (32-bit, PAE, none), random CR0.WP, CR4.PSE/SMEP/SMAP/PGE/
//   PKE (PKE does nothing outside long mode), EFER.NXE, MAXPHYADDR, and CR3's
//   low bits (PWT/PCD with 32-bit paging; the PDPT's 32-byte slot in its frame
//   with PAE);
// - PAE: four PDPTEs, now and then not present (with junk in their other
//   bits) or with one reserved bit (2:1, 8:5, 63:MAXPHYADDR: #GP for every
//   access);
// - 2-6 paths, each a PDE (4 MiB with CR4.PSE, 2 MiB with PAE, or a page
//   table; PS may be set without CR4.PSE, where it is ignored) and a PTE; 4 MiB
//   frames may use PSE-36 bits, PAE frames may lie above 4 GiB; now and then
//   a reserved bit (PSE-36 bits at or above MAXPHYADDR, bit 21; PAE bits
//   62:MAXPHYADDR, 2 MiB bits 20:13, XD without NXE);
// - a PDE that references its own page directory, 4 KiB leaves that alias a
//   table (the PDPT included: writes through them change PDPTEs, which the
//   next access reloads);
// - accesses inside a path's page, at its end (crossing), at the end of the
//   4 GiB space (wrapping to 0), or anywhere below 4 GiB.

export type LegacyModePlan = "32-bit" | "pae" | "none";

export interface LegacyCpuPlan {
  mode: LegacyModePlan;
  wp: boolean;
  pse: boolean;
  smep: boolean;
  smap: boolean;
  pge: boolean;
  pke: boolean;
  nxe: boolean;
  maxphyaddr: number;
  /** 32-bit paging: CR3 bits 4:3 (PWT, PCD); PAE: the PDPT's 32-byte slot (0..127) in its frame, plus CR3 bits 4:0 junk. */
  cr3Low: number;
}

export interface LegacyEntryPlan {
  p: boolean;
  rw: boolean;
  us: boolean;
  pwt: boolean;
  pcd: boolean;
  a: boolean;
  d: boolean;
  g: boolean;
  pat: boolean;
  xd: boolean;
  /** 0: no reserved bit; otherwise picks one reserved bit that applies to the entry. */
  rsvd: number;
}

export interface LegacyPathPlan {
  pdpt: number;
  pd: number;
  pt: number;
  /** PS in the PDE (a 4 MiB page with CR4.PSE, a 2 MiB page with PAE; ignored without CR4.PSE). */
  large: boolean;
  pde: LegacyEntryPlan;
  pte: LegacyEntryPlan;
  /** The leaf's frame: fresh, or (4 KiB leaves) one of the tables (n picks which). */
  aliasTable: number | null;
  /** High physical-address bits for the frame (PSE-36 / PAE), 0 for below 4 GiB. */
  high: number;
  dataSeed: number;
}

export type LegacyAccessTarget =
  | { kind: "path"; path: number; offset: number }
  | { kind: "pageEnd"; path: number; back: number }
  | { kind: "wrap"; back: number }
  | { kind: "selfRef"; path: number; offset: number }
  | { kind: "random"; va: number };

export interface LegacyAccessPlan {
  op: "read" | "write" | "fetch";
  size: 1 | 2 | 4 | 8;
  cpl: 0 | 3;
  ac: boolean;
  target: LegacyAccessTarget;
  value: bigint;
}

export interface LegacyPdptePlan {
  p: boolean;
  pwt: boolean;
  pcd: boolean;
  /** 0: none; else a reserved bit (2:1, 8:5, 63:MAXPHYADDR), or junk when not present. */
  rsvd: number;
}

export interface LegacyPlan {
  cpu: LegacyCpuPlan;
  frames: number[];
  pdptes: LegacyPdptePlan[];
  /** A PDE slot that references the page directory itself (the PD of PDPTE 0 with PAE). */
  selfRef: number | null;
  selfRefEntry: LegacyEntryPlan;
  paths: LegacyPathPlan[];
  accesses: LegacyAccessPlan[];
}

const legacyCpuArb: fc.Arbitrary<LegacyCpuPlan> = fc.record({
  mode: fc.oneof(
    { weight: 4, arbitrary: fc.constant("32-bit" as const) },
    { weight: 4, arbitrary: fc.constant("pae" as const) },
    { weight: 1, arbitrary: fc.constant("none" as const) },
  ),
  wp: fc.boolean(),
  pse: weighted(2, 3),
  smep: weighted(1, 3),
  smap: weighted(1, 3),
  pge: fc.boolean(),
  pke: weighted(1, 8),
  nxe: fc.boolean(),
  maxphyaddr: fc.constantFrom(...MAXPHYADDRS),
  cr3Low: fc.nat(0xfff),
});

const legacyEntryArb: fc.Arbitrary<LegacyEntryPlan> = fc.record({
  p: weighted(15, 16),
  rw: weighted(7, 8),
  us: weighted(7, 8),
  pwt: fc.boolean(),
  pcd: fc.boolean(),
  a: fc.boolean(),
  d: fc.boolean(),
  g: fc.boolean(),
  pat: weighted(1, 4),
  xd: weighted(1, 6),
  rsvd: fc.oneof({ weight: 30, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 1000 }) }),
});

const legacyIndexArb = (max: number): fc.Arbitrary<number> =>
  fc.oneof({ weight: 3, arbitrary: fc.constantFrom(0, 1, 2, max) }, { weight: 2, arbitrary: fc.nat(max) });

const legacyPathArb: fc.Arbitrary<LegacyPathPlan> = fc.record({
  pdpt: legacyIndexArb(3),
  pd: legacyIndexArb(1023),
  pt: legacyIndexArb(1023),
  large: weighted(1, 3),
  pde: legacyEntryArb,
  pte: legacyEntryArb,
  aliasTable: fc.option(fc.nat(20), { freq: 6 }),
  high: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xff }) }),
  dataSeed: fc.option(fc.integer({ min: 1, max: 0x7fffffff }), { freq: 6, nil: 0 }),
});

const legacyAccessArb: fc.Arbitrary<LegacyAccessPlan> = fc
  .record({
    op: fc.constantFrom("read" as const, "write" as const, "fetch" as const),
    size: fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
    cpl: fc.constantFrom(0 as const, 3 as const),
    ac: fc.boolean(),
    target: fc.oneof(
      { weight: 10, arbitrary: fc.record({ kind: fc.constant("path" as const), path: fc.nat(5), offset: fc.nat(PAGE_SIZE - 1) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant("pageEnd" as const), path: fc.nat(5), back: fc.integer({ min: 1, max: 8 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("wrap" as const), back: fc.integer({ min: 1, max: 8 }) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant("selfRef" as const), path: fc.nat(5), offset: fc.nat(PAGE_SIZE - 1) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("random" as const), va: u32 }) },
    ),
    value: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  })
  .map((a) => {
    const size = a.op === "fetch" ? 1 : a.size;
    return { ...a, size, value: a.op === "write" ? a.value & ((1n << BigInt(8 * size)) - 1n) : 0n };
  });

const legacyPdpteArb: fc.Arbitrary<LegacyPdptePlan> = fc.record({
  p: weighted(7, 8),
  pwt: fc.boolean(),
  pcd: fc.boolean(),
  rsvd: fc.oneof({ weight: 25, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 1000 }) }),
});

export const legacyPlanArb: fc.Arbitrary<LegacyPlan> = fc.record({
  cpu: legacyCpuArb,
  frames: fc.uniqueArray(frameArb, { minLength: FRAME_POOL, maxLength: FRAME_POOL }),
  pdptes: fc.array(legacyPdpteArb, { minLength: 4, maxLength: 4 }),
  selfRef: fc.option(legacyIndexArb(1023), { freq: 3 }),
  selfRefEntry: legacyEntryArb,
  paths: fc.array(legacyPathArb, { minLength: 2, maxLength: 6 }),
  accesses: fc.array(legacyAccessArb, { minLength: 1, maxLength: 8 }),
});

/** Builds the version-2 scenario a legacy plan describes. */
export function buildLegacyScenario(plan: LegacyPlan, name = "random legacy"): ScenarioJson {
  const c = plan.cpu;
  const pae = c.mode === "pae";
  const m = c.maxphyaddr;
  const frames = new Map<bigint, bigint[]>();
  const tableFrames: bigint[] = [];
  let nextFrame = 0;
  const alloc = (): bigint => BigInt(plan.frames[nextFrame++ % plan.frames.length]!) << BigInt(PAGE_SHIFT);
  const words = (frame: bigint): bigint[] => {
    let w = frames.get(frame);
    if (!w) frames.set(frame, (w = new Array<bigint>(ENTRIES_PER_TABLE).fill(0n)));
    return w;
  };
  const newTable = (): bigint => {
    const t = alloc();
    words(t);
    tableFrames.push(t);
    return t;
  };
  /** Stores an entry of `width` bytes at physical address `pa` (4-byte entries sit in half a qword). */
  const store = (pa: bigint, v: bigint, width: 4 | 8): void => {
    const w = words(pa & ~0xfffn);
    const i = Number((pa & 0xfffn) >> 3n);
    if (width === 8) w[i] = v;
    else {
      const shift = (pa & 4n) * 8n;
      w[i] = (w[i]! & ~(0xffffffffn << shift)) | ((v & 0xffffffffn) << shift);
    }
  };
  const load = (pa: bigint, width: 4 | 8): bigint => {
    const w = frames.get(pa & ~0xfffn);
    if (!w) return 0n;
    const q = w[Number((pa & 0xfffn) >> 3n)]!;
    return width === 8 ? q : (q >> ((pa & 4n) * 8n)) & 0xffffffffn;
  };
  const flags = (e: LegacyEntryPlan, leaf: boolean, large: boolean): bigint => {
    let v = 0n;
    if (e.p) v |= bitOf(PTE_P_BIT);
    if (e.rw) v |= bitOf(PTE_RW_BIT);
    if (e.us) v |= bitOf(PTE_US_BIT);
    if (e.pwt) v |= bitOf(PTE_PWT_BIT);
    if (e.pcd) v |= bitOf(PTE_PCD_BIT);
    if (e.a) v |= bitOf(PTE_A_BIT);
    if (e.d) v |= bitOf(PTE_D_BIT);
    if (e.g) v |= bitOf(PTE_G_BIT);
    if (large) v |= bitOf(PTE_PS_BIT);
    if (leaf && e.pat) v |= large ? bitOf(PTE_PAT_LARGE_BIT) : bitOf(PTE_PS_BIT);
    if (pae && e.xd) v |= bitOf(PTE_XD_BIT);
    return v;
  };
  /** One reserved bit the entry can carry (n picks it), 0n for none. */
  const reserved = (n: number, bigLeaf: boolean): bigint => {
    if (n === 0) return 0n;
    if (!pae) {
      if (!bigLeaf) return 0n; // 32-bit PDEs that reference a table and PTEs have no reserved bit
      const lo = Math.min(m, 40) - 19; // bits 21:lo reserved
      return bitOf(lo + (n % (22 - lo)));
    }
    const choices: number[] = [];
    for (let b = m; b <= 62; b++) choices.push(b);
    if (!c.nxe) choices.push(PTE_XD_BIT);
    if (bigLeaf) for (let b = 13; b <= 20; b++) choices.push(b);
    return bitOf(choices[n % choices.length]!);
  };

  let cr3: bigint;
  let pdOf: (pdpt: number) => bigint | null;
  const pdptes: bigint[] = [0n, 0n, 0n, 0n];
  let pdpt = 0n;
  if (c.mode === "32-bit") {
    const pd = newTable();
    cr3 = pd | BigInt(c.cr3Low & 0x18);
    pdOf = () => pd;
  } else if (pae) {
    const frame = newTable();
    pdpt = frame + 32n * BigInt(c.cr3Low & 0x7f);
    cr3 = pdpt | BigInt((c.cr3Low >> 7) & 0x1f);
    plan.pdptes.forEach((p, i) => {
      let v: bigint;
      if (!p.p) v = BigInt(p.rsvd) << 1n; // junk in a not-present PDPTE
      else {
        v = newTable() | bitOf(PTE_P_BIT);
        if (p.pwt) v |= bitOf(PTE_PWT_BIT);
        if (p.pcd) v |= bitOf(PTE_PCD_BIT);
        if (p.rsvd !== 0) {
          const choices = [1, 2, 5, 6, 7, 8];
          for (let b = m; b <= 63; b++) choices.push(b);
          v |= bitOf(choices[p.rsvd % choices.length]!);
        }
      }
      pdptes[i] = v;
      store(pdpt + 8n * BigInt(i), v, 8);
    });
    pdOf = (i) => (bit64(pdptes[i]!, PTE_P_BIT) ? pdptes[i]! & bitsMask(m - 1, 12) : null);
  } else {
    cr3 = BigInt(c.cr3Low) << 12n;
    pdOf = () => null;
  }

  const width: 4 | 8 = pae ? 8 : 4;
  const pdBits = pae ? 9 : 10;
  const ptShift = pae ? 21 : 22;
  const highMask = pae ? bitsMask(m - 1, 32) : bitsMask(Math.min(m, 40) - 1, 32);
  /** va of a path's 4 KiB page (or the 4 KiB page its indices select in a large page). */
  const vaOf = (p: LegacyPathPlan): bigint => {
    const pd = BigInt(p.pd & ((1 << pdBits) - 1));
    const pt = BigInt(p.pt & ((1 << pdBits) - 1));
    return pae ? (BigInt(p.pdpt) << 30n) | (pd << 21n) | (pt << 12n) : (pd << 22n) | (pt << 12n);
  };

  const pendingAliases: { pa: bigint; bits: bigint; n: number }[] = [];
  if (c.mode !== "none") {
    if (plan.selfRef !== null) {
      const pd = pdOf(0);
      if (pd !== null) {
        const slot = BigInt(plan.selfRef & ((1 << pdBits) - 1));
        store(pd + BigInt(width) * slot, pd | flags(plan.selfRefEntry, false, false), width);
      }
    }
    for (const p of plan.paths) {
      const pd = pdOf(p.pdpt);
      if (pd === null) continue;
      const pdeAddr = pd + BigInt(width) * BigInt(p.pd & ((1 << pdBits) - 1));
      if (load(pdeAddr, width) !== 0n) continue; // taken by an earlier path
      const bigLeaf = p.large && (pae || c.pse);
      const high = (BigInt(p.high) << 32n) & highMask;
      if (bigLeaf) {
        const base = alloc() & ~((1n << BigInt(ptShift)) - 1n);
        let frame: bigint;
        if (pae) frame = base | high;
        else frame = base | ((high >> 32n) << 13n); // PSE-36: address bits 39:32 in PDE bits 20:13
        store(pdeAddr, frame | flags(p.pde, true, true) | reserved(p.pde.rsvd, true), width);
        continue;
      }
      const pt = newTable();
      store(pdeAddr, pt | flags(p.pde, false, p.large) | reserved(p.pde.rsvd, false), width);
      const pteAddr = pt + BigInt(width) * BigInt(p.pt & ((1 << pdBits) - 1));
      const bits = flags(p.pte, true, false) | reserved(p.pte.rsvd, false);
      if (p.aliasTable !== null) pendingAliases.push({ pa: pteAddr, bits, n: p.aliasTable });
      else {
        const frame = alloc() | (pae ? high : 0n);
        store(pteAddr, frame | bits, width);
        if (p.dataSeed !== 0 && !frames.has(frame)) {
          const next = prng(p.dataSeed);
          const w = words(frame);
          for (let j = 0; j < ENTRIES_PER_TABLE; j++) w[j] = next();
        }
      }
    }
    for (const a of pendingAliases) store(a.pa, tableFrames[a.n % tableFrames.length]! | a.bits, width);
  } else {
    // No paging: a few data pages for the accesses to find.
    for (const p of plan.paths) {
      if (p.dataSeed === 0) continue;
      const next = prng(p.dataSeed);
      const w = words(vaOf(p) & ~0xfffn);
      for (let j = 0; j < ENTRIES_PER_TABLE; j++) w[j] = next();
    }
  }

  const memory: ScenarioJson["memory"] = [];
  for (const frame of [...frames.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))) {
    if (frame >> BigInt(m) !== 0n) continue; // (a high frame beyond MAXPHYADDR: leave it unlisted)
    const w = frames.get(frame)!;
    let first = 0;
    while (first < w.length && w[first] === 0n) first++;
    if (first === w.length) continue;
    let last = w.length - 1;
    while (w[last] === 0n) last--;
    memory.push({ paddr: hex(frame + 8n * BigInt(first)), qwords: w.slice(first, last + 1).map(hex) });
  }

  const target = (t: LegacyAccessTarget): bigint => {
    switch (t.kind) {
      case "path":
        return vaOf(plan.paths[t.path % plan.paths.length]!) + BigInt(t.offset);
      case "pageEnd":
        return vaOf(plan.paths[t.path % plan.paths.length]!) + BigInt(PAGE_SIZE - t.back);
      case "wrap":
        return 0x100000000n - BigInt(t.back);
      case "selfRef": {
        // Through the self-referencing PDE: the page directory seen as a page table.
        const p = plan.paths[t.path % plan.paths.length]!;
        if (plan.selfRef === null) return vaOf(p) + BigInt(t.offset);
        const slot = BigInt(plan.selfRef & ((1 << pdBits) - 1));
        const pt = BigInt(p.pd & ((1 << pdBits) - 1));
        return (pae ? slot << 21n : slot << 22n) | (pt << 12n) | BigInt(t.offset);
      }
      case "random":
        return BigInt(t.va);
    }
  };
  const accesses: ScenarioJson["accesses"] = plan.accesses.map((a) => {
    const o: ScenarioJson["accesses"][number] = { va: hex(target(a.target) & 0xffffffffn), op: a.op, cpl: a.cpl, ac: a.ac };
    if (a.op !== "fetch") o.size = a.size;
    if (a.op === "write") o.value = hex(a.value);
    return o;
  });

  let cr0 = bitOf(CR0_PE_BIT);
  if (c.mode !== "none") cr0 |= bitOf(CR0_PG_BIT);
  if (c.wp) cr0 |= bitOf(CR0_WP_BIT);
  let cr4 = 0n;
  if (pae) cr4 |= bitOf(CR4_PAE_BIT);
  if (c.pse) cr4 |= bitOf(CR4_PSE_BIT);
  if (c.smep) cr4 |= bitOf(CR4_SMEP_BIT);
  if (c.smap) cr4 |= bitOf(CR4_SMAP_BIT);
  if (c.pge) cr4 |= bitOf(CR4_PGE_BIT);
  if (c.pke) cr4 |= bitOf(CR4_PKE_BIT);
  const efer = c.nxe ? bitOf(EFER_NXE_BIT) : 0n;

  return {
    name,
    cpu: { cr0: hex(cr0), cr3: hex(cr3), cr4: hex(cr4), efer: hex(efer), pkru: "0x0", pkrs: "0x0", maxphyaddr: m },
    memory,
    accesses,
  };
}

function bit64(v: bigint, n: number): boolean {
  return ((v >> BigInt(n)) & 1n) === 1n;
}

function bitsMask(hi: number, lo: number): bigint {
  return hi < lo ? 0n : ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}

/** Random legacy-mode scenarios (format version 2) in the public JSON form. */
export const legacyScenarioArb: fc.Arbitrary<ScenarioJson> = legacyPlanArb.map((p) => buildLegacyScenario(p));
