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
import {
  CR0_PE_BIT,
  CR0_PG_BIT,
  CR0_WP_BIT,
  CR4_LA57_BIT,
  CR4_PAE_BIT,
  CR4_PGE_BIT,
  CR4_PKE_BIT,
  CR4_PKS_BIT,
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
  let s = seed >>> 0 || 1;
  const next32 = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
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
