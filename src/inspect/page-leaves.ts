/**
 * Every leaf of a page-table tree, one by one: what QEMU's `info tlb` lists
 * (src/inspect/qemu-monitor.ts prints it so) and `x86mmu map --json` gives.
 *
 * `pageMap` (page-map.ts) merges leaves into ranges and keeps only their
 * effective rights; this lists each leaf entry with its own value, its entry
 * address, and the effective rights of the walk to it. The tables are read
 * the same way (PhysicalMemory.readBytes: no A/D flag set, no TLB filled),
 * in the same formats (32-bit, PAE, 4-level, 5-level; `mode`, `levels`,
 * `root` and `limit` as for pageMap), and an entry a walk would fault on
 * with a reserved-bit violation maps nothing here either: pageMap decides
 * which entries are reserved (one home for that rule), and they are listed
 * in `invalid` as pageMap lists them.
 *
 * Leaves come in table order: ascending linear address, the lower half
 * first, then the kernel half (as QEMU walks them).
 */

import {
  PTE_P_BIT, PTE_RW_BIT, PTE_US_BIT, PTE_PWT_BIT, PTE_PCD_BIT, PTE_A_BIT, PTE_D_BIT, PTE_PS_BIT, PTE_G_BIT,
  PTE_PAT_LARGE_BIT, PTE_PK_SHIFT, PTE_XD_BIT, PTE_ADDR_TOP_BIT, EFER_NXE_BIT, CR4_PSE_BIT,
  PAGE_SHIFT, PAGE_SIZE, ENTRIES_PER_TABLE, LEVEL_PT, LEVEL_PD, LEVEL_PDPT,
} from "../arch/index.js";
import type { Mmu, PageSize } from "../mmu/index.js";
import { pageMap, type PageMapOptions, type TableFormat, type InvalidEntry, PAGE_MAP_DEFAULT_LIMIT } from "./page-map.js";

/**
 * A leaf's rights and attributes. `writable`, `user` and `noExecute` are the
 * effective rights of the walk (R/W and U/S ANDed over every level, XD ORed;
 * XD only with EFER.NXE=1), as in pageMap's MappedFlags; the others are the
 * leaf entry's own bits.
 */
export interface LeafFlags {
  writable: boolean;
  user: boolean;
  noExecute: boolean;
  global: boolean;
  /** Bits 62:59 (4-level and 5-level paging; 0 otherwise). */
  pkey: number;
  writeThrough: boolean;
  cacheDisable: boolean;
  /** Bit 7 of a PTE, bit 12 of a large leaf. */
  pat: boolean;
  accessed: boolean;
  dirty: boolean;
}

/** One leaf entry: a page mapped. */
export interface PageLeaf {
  /** First linear address, canonical (sign-extended from bit 47, or bit 56 with 5 levels; 32 bits with 32-bit and PAE paging). */
  va: bigint;
  /** First physical address of the page. */
  pa: bigint;
  /** "4K", "2M", "1G", or "4M" (a 4 MiB page of 32-bit paging). */
  pageSize: PageSize | "4M";
  /** The leaf's level: 1 (PTE), 2 (PDE) or 3 (PDPTE). */
  level: number;
  /** The leaf entry's value (a 4-byte entry zero-extended with 32-bit paging). */
  entry: bigint;
  /** Physical address of the leaf entry. */
  entryAddr: bigint;
  flags: LeafFlags;
}

export interface PageLeaves {
  leaves: PageLeaf[];
  /** Present entries with reserved bits set (as pageMap gives them): they map nothing. */
  invalid: InvalidEntry[];
  /** True when `limit` stopped the walk. */
  truncated: boolean;
  root: bigint;
  mode: TableFormat;
  levels: 2 | 3 | 4 | 5;
}

const INDEX_BITS = Math.log2(ENTRIES_PER_TABLE);
const TWO_32 = 2 ** 32;
const ADDR_LO_MASK = ~(PAGE_SIZE - 1) >>> 0;
const ADDR_HI_MASK = 2 ** (PTE_ADDR_TOP_BIT + 1 - 32) - 1;
const P = 1 << PTE_P_BIT;
const RW = 1 << PTE_RW_BIT;
const US = 1 << PTE_US_BIT;
const PS = 1 << PTE_PS_BIT;
const SIZE_OF: Record<number, PageSize> = { [LEVEL_PT]: "4K", [LEVEL_PD]: "2M", [LEVEL_PDPT]: "1G" };

const bitOf = (w: number, n: number): boolean => ((w >>> n) & 1) !== 0;

/**
 * Every leaf of the tree CR3 points to (or of `options.root`), with its entry
 * and the effective rights of its walk. Same options, checks and errors as
 * pageMap (ArgumentError for a bad root, mode, levels or limit).
 */
export function pageLeaves(mmu: Mmu, options: PageMapOptions = {}): PageLeaves {
  // pageMap checks the options, resolves root and format, and finds the reserved entries.
  const map = pageMap(mmu, options);
  const { mode, levels } = map;
  const root = Number(map.root);
  const limit = options.limit ?? PAGE_MAP_DEFAULT_LIMIT;
  const bad = new Set(map.invalid.map((e) => `${e.entryAddr}/${e.level}`));
  const isBad = (entryAddr: number, level: number): boolean => bad.size > 0 && bad.has(`${entryAddr}/${level}`);
  const state = mmu.state;
  const nxe = ((state.efer >> BigInt(EFER_NXE_BIT)) & 1n) !== 0n;
  const pse = ((state.cr4 >> BigInt(CR4_PSE_BIT)) & 1n) !== 0n;
  const width = levels >= 4 ? PAGE_SHIFT + INDEX_BITS * levels : 32;
  const signBit = 2 ** (width - PAGE_SHIFT - 1);
  const leaves: PageLeaf[] = [];
  let truncated = false;

  const tables = new Map<number, DataView>();
  const table = (pa: number): DataView => {
    let dv = tables.get(pa);
    if (dv === undefined) {
      const b = mmu.memory.readBytes(BigInt(pa), PAGE_SIZE);
      dv = new DataView(b.buffer, b.byteOffset, PAGE_SIZE);
      if (tables.size < 1024) tables.set(pa, dv);
    }
    return dv;
  };
  const canonical = (vpn: number): bigint => {
    const va = BigInt(vpn) << BigInt(PAGE_SHIFT);
    return levels >= 4 && vpn >= signBit ? BigInt.asUintN(64, va - (1n << BigInt(width)) + (1n << 64n)) : va;
  };
  const push = (vpn: number, frame: number, level: number, size: PageSize | "4M", lo: number, hi: number, entryAddr: number, w: boolean, u: boolean, xd: boolean, pat: boolean): boolean => {
    if (leaves.length >= limit) {
      truncated = true;
      return false;
    }
    leaves.push({
      va: canonical(vpn),
      pa: BigInt(frame),
      pageSize: size,
      level,
      entry: (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0),
      entryAddr: BigInt(entryAddr),
      flags: {
        writable: w,
        user: u,
        noExecute: xd,
        global: bitOf(lo, PTE_G_BIT),
        pkey: mode === "4-level" || mode === "5-level" ? (hi >>> (PTE_PK_SHIFT - 32)) & 0xf : 0,
        writeThrough: bitOf(lo, PTE_PWT_BIT),
        cacheDisable: bitOf(lo, PTE_PCD_BIT),
        pat,
        accessed: bitOf(lo, PTE_A_BIT),
        dirty: bitOf(lo, PTE_D_BIT),
      },
    });
    return true;
  };

  /** An 8-byte-entry table at `level` (PAE's PD and PT, or long mode's); false when the limit stopped it. */
  const walk = (tpa: number, level: number, vpnBase: number, w: boolean, u: boolean, xd: boolean): boolean => {
    const dv = table(tpa);
    const span = 2 ** (INDEX_BITS * (level - 1));
    const shift = PAGE_SHIFT + INDEX_BITS * (level - 1);
    for (let i = 0; i < ENTRIES_PER_TABLE; i++) {
      const lo = dv.getUint32(i * 8, true);
      if ((lo & P) === 0) continue;
      const entryAddr = tpa + i * 8;
      if (isBad(entryAddr, level)) continue;
      const hi = dv.getUint32(i * 8 + 4, true);
      const vpn = vpnBase + i * span;
      const ew = w && (lo & RW) !== 0;
      const eu = u && (lo & US) !== 0;
      const exd = xd || (nxe && bitOf(hi, PTE_XD_BIT - 32));
      const leaf = level === LEVEL_PT || (level <= LEVEL_PDPT && (lo & PS) !== 0);
      if (!leaf) {
        const next = ((lo & ADDR_LO_MASK) >>> 0) + (hi & ADDR_HI_MASK) * TWO_32;
        if (!walk(next, level - 1, vpn, ew, eu, exd)) return false;
        continue;
      }
      const large = level !== LEVEL_PT;
      const frame = ((lo & ~(2 ** shift - 1)) >>> 0) + (hi & ADDR_HI_MASK) * TWO_32;
      const pat = large ? bitOf(lo, PTE_PAT_LARGE_BIT) : (lo & PS) !== 0;
      if (!push(vpn, frame, level, SIZE_OF[level]!, lo, hi, entryAddr, ew, eu, exd, pat)) return false;
    }
    return true;
  };

  if (mode === "32-bit") {
    const pd = table(root);
    outer: for (let i = 0; i < 1024; i++) {
      const pde = pd.getUint32(i * 4, true);
      if ((pde & P) === 0) continue;
      const pdeAddr = root + i * 4;
      if (isBad(pdeAddr, LEVEL_PD)) continue;
      if (pse && (pde & PS) !== 0) {
        const m = Math.min(mmu.maxPhyAddr, 40);
        const frame = ((pde & 0xffc00000) >>> 0) + ((pde >>> 13) & (2 ** (m - 32) - 1)) * TWO_32;
        if (!push(i * 1024, frame, LEVEL_PD, "4M", pde, 0, pdeAddr, (pde & RW) !== 0, (pde & US) !== 0, false, bitOf(pde, PTE_PAT_LARGE_BIT))) break;
        continue;
      }
      const ptAddr = (pde & ADDR_LO_MASK) >>> 0;
      const pt = table(ptAddr);
      for (let j = 0; j < 1024; j++) {
        const pte = pt.getUint32(j * 4, true);
        if ((pte & P) === 0) continue;
        const w = (pde & pte & RW) !== 0;
        const u = (pde & pte & US) !== 0;
        if (!push(i * 1024 + j, (pte & ADDR_LO_MASK) >>> 0, LEVEL_PT, "4K", pte, 0, ptAddr + j * 4, w, u, false, (pte & PS) !== 0)) break outer;
      }
    }
  } else if (mode === "pae") {
    const pdptes = options.root === undefined && mmu.pagingMode === "pae" ? mmu.pdptes : readPdptes(mmu, root);
    for (let s = 0; s < 4; s++) {
      const e = pdptes[s]!;
      if ((e & 1n) === 0n || isBad(root + s * 8, LEVEL_PDPT)) continue;
      if (!walk(Number(e & 0x000ffffffffff000n), LEVEL_PD, s * 2 ** (2 * INDEX_BITS), true, true, false)) break;
    }
  } else {
    walk(root, levels, 0, true, true, false);
  }
  return { leaves, invalid: map.invalid, truncated: truncated || map.truncated, root: map.root, mode, levels };
}

function readPdptes(mmu: Mmu, root: number): bigint[] {
  const b = mmu.memory.readBytes(BigInt(root), 32);
  const dv = new DataView(b.buffer, b.byteOffset, 32);
  return [0, 1, 2, 3].map((i) => dv.getBigUint64(i * 8, true));
}
