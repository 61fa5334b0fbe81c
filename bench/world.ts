/**
 * The page tables every translate / access benchmark runs over, built once
 * per process with the public API, and the same tables as the baselines see
 * them.
 *
 * Layout (4- or 5-level, long mode with WP, NXE, SMEP, SMAP, PKE, PKS, PGE;
 * MAXPHYADDR 46; every leaf user + writable; accesses at CPL 3):
 * - hot set: 64 pages in four clusters of 16 (code, heap, mmap, stack), each
 *   on its own data frame with storage and random contents, the clusters in
 *   distinct TLB slots;
 * - 1 GiB of 4 KiB pages at 0x1000_0000_0000 (physical 4 GiB + ...), mapped in
 *   2 MiB chunks whose page tables are allocated at random physical
 *   addresses below 256 MiB (512 page-table pages, scattered);
 * - 1 GiB of 2 MiB pages at 0x2000_0000_0000 (physical 8 GiB + ...).
 *
 * The baselines read the very same tables: every frame with storage (tables
 * and hot data, all below 256 MiB) is copied to the same physical address of
 * a flat 256 MiB buffer (`flat`); the reference walker gets them in its own
 * sparse memory. Each keeps its own copy from then on (A/D flags included).
 */

import { x86, refMemory, type Mmu, type RefPhysicalMemory } from "./lib.js";
import { rng, shuffle } from "./harness.js";
import type { FullWalkerConfig } from "./baselines/full-walker.js";
import { VA_HI, DATA_BASE, PAGES, mem as yardstickMem } from "./baselines/minimal-walker.mjs";

export const MIB = 1 << 20;
export const GIB = 1 << 30;
export const FLAT_BYTES = 256 * MIB;
export const HOT_CLUSTERS = [0x0000_0000_0040_0000, 0x0000_5555_5510_0000, 0x0000_7f12_3420_0000, 0x0000_7ffd_dc30_0000];
export const HOT_PAGES_PER_CLUSTER = 16;
export const MISS4K_VA = 0x1000_0000_0000;
export const MISS2M_VA = 0x2000_0000_0000;
const MISS4K_PA = 0x1_0000_0000n;
const MISS2M_PA = 0x2_0000_0000n;
export const MAXPHYADDR = 46;

const CR4 = (1n << 5n) | (1n << 7n) | (1n << 20n) | (1n << 21n) | (1n << 22n) | (1n << 24n); // PAE PGE SMEP SMAP PKE PKS
const LA57 = 1n << 12n;

export interface World {
  mmu: Mmu;
  levels: 4 | 5;
  root: bigint;
  /** Flat copy of physical memory [0, 256 MiB) for the plain-TypeScript walkers. */
  flat: ArrayBuffer;
  flat32: Uint32Array;
  fullConfig: FullWalkerConfig;
  /** The reference walker's CPU state and memory (built on first use). */
  refCpu: { cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint; pkru: bigint; pkrs: bigint; maxphyaddr: number };
  refMem(): RefPhysicalMemory;
  hotPages: number[];
}

export function buildWorld(levels: 4 | 5): World {
  const rand = rng(0x5eed + levels);
  const mmu = new x86.Mmu({ maxPhyAddr: MAXPHYADDR });
  const mem = mmu.memory;
  const scatter = () => BigInt(MIB + Math.floor(rand() * (FLAT_BYTES - 8 * MIB) / 4096) * 4096);
  mem.setAllocBase(scatter());
  const pt = mmu.createPageTable({ levels });
  const flags = { writable: true, user: true };

  const hotPages: number[] = [];
  for (const base of HOT_CLUSTERS) {
    for (let p = 0; p < HOT_PAGES_PER_CLUSTER; p++) {
      const va = base + p * 4096;
      mem.setAllocBase(BigInt(16 * MIB) + BigInt(Math.floor(rand() * ((FLAT_BYTES - 32 * MIB) / 4096))) * 4096n);
      const frame = mem.allocFrame();
      pt.map(BigInt(va), frame, 0x1000n, { flags });
      const bytes = new Uint8Array(4096);
      for (let i = 0; i < 4096; i++) bytes[i] = Math.floor(rand() * 256);
      mem.writeBytes(frame, bytes);
      hotPages.push(va);
    }
  }
  const slots = new Set(hotPages.map((va) => Math.floor(va / 4096) % 1024));
  if (slots.size !== hotPages.length) throw new Error("bench: hot pages share TLB slots");

  for (let c = 0; c < 512; c++) {
    mem.setAllocBase(scatter());
    pt.map(BigInt(MISS4K_VA) + BigInt(c) * 0x200000n, MISS4K_PA + BigInt(c) * 0x200000n, 0x200000n, { flags });
  }
  mem.setAllocBase(scatter());
  pt.map(BigInt(MISS2M_VA), MISS2M_PA, BigInt(GIB), { size: "2M", flags });

  const cr4 = CR4 | (levels === 5 ? LA57 : 0n);
  mmu.loadState({ cr0: x86.LONG_MODE.cr0, cr3: pt.root, cr4, efer: x86.LONG_MODE.efer, maxPhyAddr: MAXPHYADDR });

  const frames = mem.frames();
  const flat = new ArrayBuffer(FLAT_BYTES);
  const u8 = new Uint8Array(flat);
  for (const f of frames) {
    if (f + 4096n > BigInt(FLAT_BYTES)) throw new Error(`bench: frame 0x${f.toString(16)} lies above the flat baseline memory`);
    u8.set(mem.readBytes(f, 4096), Number(f));
  }
  let ref: RefPhysicalMemory | undefined;
  const refMem = (): RefPhysicalMemory => {
    if (ref) return ref;
    ref = new refMemory.PhysicalMemory();
    const dv = new DataView(flat);
    for (const f of frames) {
      const base = Number(f);
      for (let q = 0; q < 4096; q += 8) {
        const v = dv.getBigUint64(base + q, true);
        if (v !== 0n) ref.write64(f + BigInt(q), v);
      }
    }
    return ref;
  };
  const st = mmu.state;
  return {
    mmu,
    levels,
    root: pt.root,
    flat,
    flat32: new Uint32Array(flat),
    fullConfig: {
      mem: new Uint32Array(flat),
      root: Number(pt.root),
      levels,
      maxPhyAddr: MAXPHYADDR,
      wp: true,
      nxe: true,
      smep: true,
      smap: true,
      pke: true,
      pks: true,
      pkru: 0,
      pkrs: 0,
    },
    refCpu: { cr0: st.cr0, cr3: st.cr3, cr4: st.cr4, efer: st.efer, pkru: 0n, pkrs: 0n, maxphyaddr: MAXPHYADDR },
    refMem,
    hotPages,
  };
}

/** One set of linear addresses in every form the cases take. */
export class AddrSet {
  readonly n: number;
  readonly nums: Float64Array;
  readonly pairs: Uint32Array;
  readonly bigs: bigint[];
  constructor(vas: number[]) {
    this.n = vas.length;
    this.nums = Float64Array.from(vas);
    this.pairs = new Uint32Array(2 * vas.length);
    vas.forEach((v, i) => {
      this.pairs[2 * i] = v >>> 0;
      this.pairs[2 * i + 1] = Math.floor(v / 4294967296);
    });
    this.bigs = vas.map((v) => BigInt(v));
  }
}

/** n random 8-byte-aligned addresses in the hot pages. */
export function hotSet(w: World, n: number, seed: number): AddrSet {
  const rand = rng(seed);
  const vas: number[] = [];
  for (let i = 0; i < n; i++) vas.push(w.hotPages[Math.floor(rand() * w.hotPages.length)]! + Math.floor(rand() * 512) * 8);
  return new AddrSet(vas);
}

/** n addresses on n distinct random pages of [base, base + span), in random order. */
export function distinctPages(base: number, span: number, n: number, seed: number): AddrSet {
  const rand = rng(seed);
  const pages = span / 4096;
  if (n > pages) throw new Error("bench: more addresses than pages");
  let chosen: number[];
  if (n === pages) chosen = shuffle([...Array(pages).keys()], rand);
  else {
    const s = new Set<number>();
    while (s.size < n) s.add(Math.floor(rand() * pages));
    chosen = shuffle([...s], rand);
  }
  return new AddrSet(chosen.map((p) => base + p * 4096 + Math.floor(rand() * 512) * 8));
}

// ---------------------------------------------------------------------------
// The yardstick's world (issue 12): the shared minimal walker
// (baselines/minimal-walker.mjs, used verbatim) walks its own tables, built at
// import: 1 GiB of 4 KiB pages at linear 0x7f00_0000_0000, page k at physical
// DATA_BASE + k * 4096. The core maps the same range to the same frames, with
// the same controls as buildWorld (every check live, CPL 3).


export const YARD_VA = VA_HI * 2 ** 32;
export const HOT_SPAN = 64 * 4096;

export interface YardstickWorld {
  mmu: Mmu;
  /** The full walker over a private copy of the yardstick's tables (it writes A/D). */
  fullConfig: FullWalkerConfig;
  refCpu: World["refCpu"];
  refMem(): RefPhysicalMemory;
  /** Contents of the 64 hot frames (DATA_BASE .. + 256 KiB), as the baselines' RAM; also written to the core's frames. */
  hotData: ArrayBuffer;
}

export function buildYardstickWorld(): YardstickWorld {
  if (PAGES * 4096 !== GIB) throw new Error("bench: the yardstick no longer maps 1 GiB");
  const mmu = new x86.Mmu({ maxPhyAddr: MAXPHYADDR });
  const mem = mmu.memory;
  mem.setAllocBase(BigInt(MIB));
  const pt = mmu.createPageTable({ levels: 4 });
  pt.map(BigInt(YARD_VA), BigInt(DATA_BASE), BigInt(GIB), { flags: { writable: true, user: true } });
  const rand = rng(0x7a4d);
  const hotData = new ArrayBuffer(HOT_SPAN);
  const u8 = new Uint8Array(hotData);
  for (let i = 0; i < HOT_SPAN; i++) u8[i] = Math.floor(rand() * 256);
  for (let p = 0; p < 64; p++) mem.writeBytes(BigInt(DATA_BASE + p * 4096), u8.subarray(p * 4096, (p + 1) * 4096));
  mmu.loadState({ cr0: x86.LONG_MODE.cr0, cr3: pt.root, cr4: CR4, efer: x86.LONG_MODE.efer, maxPhyAddr: MAXPHYADDR });
  const st = mmu.state;
  let ref: RefPhysicalMemory | undefined;
  return {
    mmu,
    fullConfig: {
      mem: new Uint32Array(yardstickMem),
      root: 0,
      levels: 4,
      maxPhyAddr: MAXPHYADDR,
      wp: true,
      nxe: true,
      smep: true,
      smap: true,
      pke: true,
      pks: true,
      pkru: 0,
      pkrs: 0,
    },
    refCpu: { cr0: st.cr0, cr3: 0n, cr4: st.cr4, efer: st.efer, pkru: 0n, pkrs: 0n, maxphyaddr: MAXPHYADDR },
    refMem: () => {
      if (ref) return ref;
      ref = new refMemory.PhysicalMemory();
      for (let i = 0; i < yardstickMem.length; i += 2) {
        const lo = yardstickMem[i]!;
        const hi = yardstickMem[i + 1]!;
        if (lo !== 0 || hi !== 0) ref.write64(BigInt(i * 4), (BigInt(hi) << 32n) | BigInt(lo));
      }
      return ref;
    },
    hotData,
  };
}

/** An address set over the yardstick's mapping from low halves (hi is VA_HI). */
export function yardSet(los: Uint32Array | number[]): AddrSet {
  return new AddrSet(Array.from(los, (lo) => YARD_VA + lo));
}

// ---------------------------------------------------------------------------
// One Mmu per paging mode (issue 14), over the same layout: 16 MiB of 4 KiB
// pages at linear 0x4000_0000 (below 4 GiB, so every mode maps it) on frames
// DATA_BASE + k * 4096; WP, SMEP, SMAP, PGE on in every mode, NXE where it
// exists (PAE, 4-level); CPL 3 reads.

export const MODE_VA = 0x4000_0000;
export const MODE_SPAN = 16 * MIB;
export type ModeName = "32-bit" | "pae" | "4-level";

export function buildModeWorld(mode: ModeName): Mmu {
  const mmu = new x86.Mmu({ maxPhyAddr: MAXPHYADDR });
  mmu.memory.setAllocBase(BigInt(MIB));
  const flags = { writable: true, user: true };
  const common = (1n << 7n) | (1n << 20n) | (1n << 21n); // PGE SMEP SMAP
  const cr0 = 0x80010011n; // PG WP ET PE
  if (mode === "4-level") {
    const pt = mmu.createPageTable({ levels: 4 });
    pt.map(BigInt(MODE_VA), BigInt(DATA_BASE), BigInt(MODE_SPAN), { flags });
    mmu.loadState({ cr0: x86.LONG_MODE.cr0, cr3: pt.root, cr4: (1n << 5n) | common, efer: x86.LONG_MODE.efer, maxPhyAddr: MAXPHYADDR });
  } else {
    const pt = mmu.createPageTable({ mode });
    pt.map(BigInt(MODE_VA), BigInt(DATA_BASE), BigInt(MODE_SPAN), { flags });
    if (mode === "32-bit") mmu.loadState({ cr0, cr3: pt.root, cr4: (1n << 4n) | common, efer: 0n, maxPhyAddr: MAXPHYADDR });
    else mmu.loadState({ cr0, cr3: pt.root, cr4: (1n << 5n) | common, efer: 0x800n, maxPhyAddr: MAXPHYADDR });
  }
  if (mmu.pagingMode !== mode) throw new Error(`bench: paging mode ${mmu.pagingMode}, expected ${mode}`);
  return mmu;
}

// ---------------------------------------------------------------------------
// Nested paging (issue 17): a 4-level guest maps 1 GiB of 4 KiB pages at
// guest-linear 0x7f00_0000_0000 to guest-physical 1 GiB + k * 4096, its page
// tables scattered over guest-physical [1 MiB, 256 MiB) in 2 MiB chunks (as in
// buildWorld). The 1-D world runs those tables as they are (guest-physical =
// physical). The 2-D worlds add the host's 4-level nested tables: guest-physical
// [0, 1 GiB) identity-mapped (the guest's tables live there) and [1 GiB, 2 GiB)
// on host-physical 4 GiB + ..., all with 4 KiB or all with 2 MiB nested pages,
// and run the guest under enterGuest({ ncr3, asid: 1 }). Long mode with WP
// and NXE (LONG_MODE), CPL 3 reads.

export const NPT_VA = YARD_VA;
export const NPT_GPA = GIB;
export const NPT_HPA = 4 * GIB;

export function buildNptWorld(nested: "none" | "4K" | "2M"): Mmu {
  const rand = rng(0x17);
  const mmu = new x86.Mmu();
  const mem = mmu.memory;
  const flags = { writable: true, user: true };
  const scatter = () => BigInt(MIB + Math.floor((rand() * (FLAT_BYTES - 8 * MIB)) / 4096) * 4096);
  mem.setAllocBase(scatter());
  const guest = mmu.createPageTable({ levels: 4 });
  for (let c = 0; c < 512; c++) {
    mem.setAllocBase(scatter());
    guest.map(BigInt(NPT_VA) + BigInt(c) * 0x200000n, BigInt(NPT_GPA) + BigInt(c) * 0x200000n, 0x200000n, { flags });
  }
  mmu.loadState({ ...x86.LONG_MODE, cr3: guest.root });
  if (nested !== "none") {
    mem.setAllocBase(BigInt(768 * MIB));
    const npt = mmu.createPageTable({ levels: 4 });
    npt.map(0n, 0n, BigInt(GIB), { size: nested, flags });
    npt.map(BigInt(NPT_GPA), BigInt(NPT_HPA), BigInt(GIB), { size: nested, flags });
    mmu.enterGuest({ ncr3: npt.root, asid: 1 });
  }
  return mmu;
}
