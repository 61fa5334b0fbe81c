/**
 * The page map and reverse lookup: what a page-table tree maps, read the way
 * the processor's walker reads it, but without a walk's side effects.
 *
 * - `pageMap(mmu)` lists the whole linear address space of the tree CR3
 *   points to (or of any root) as ranges: virtual start, physical start,
 *   length, page size and the effective rights of the walk, with adjacent
 *   leaves merged where they are contiguous both virtually and physically
 *   and agree on page size and attributes.
 * - `reverseLookup(mmu, pa)` lists every linear page that maps the 4 KiB
 *   frame containing `pa` (aliases included; a 2 MiB or 1 GiB page covering
 *   the frame counts, reported for the 4 KiB piece that lands on the frame).
 *
 * What the walk reads and does not do:
 * - It reads the tables with `PhysicalMemory.readBytes` only: no accessed or
 *   dirty flag is set, the TLB is neither used nor filled, and frames that
 *   never held data are not given storage (they read as zero). What the TLB
 *   may still hold from before a table changed is not reflected: this is the
 *   tree as a walk would see it now.
 * - It reads the tree in the format of the paging mode (`mmu.pagingMode`):
 *   4- or 5-level; 32-bit paging (1024 4-byte entries per table, 4 MiB pages
 *   where CR4.PSE=1, their frame address with the PSE-36 bits 39:32 from PDE
 *   bits 20:13); PAE paging (the four PDPTE registers as the top level, as
 *   the walk uses them, then 8-byte PDEs and PTEs, 2 MiB pages). Linear
 *   addresses then have 32 bits and are not sign-extended. `mode` (or
 *   `levels`) and `root` read another tree; a PAE tree given by `root` has
 *   its PDPTEs read from memory there.
 * - With paging off (CR0.PG=0) linear addresses are physical and no table is
 *   read by the processor; the functions then describe the tree CR3 points
 *   to in the format that setting CR0.PG would select now (CR4.PAE,
 *   EFER.LME, CR4.LA57; the PAE PDPTEs read from memory, as that MOV to CR0
 *   would load them): the tables a kernel prepares before it turns paging on.
 * - Entries are checked as the walker in assembly/walk.ts checks them: an
 *   entry that is not present is skipped; a present entry with a reserved bit
 *   set (address bits at or above MAXPHYADDR, XD while EFER.NXE=0, PS in a
 *   PML5E/PML4E, bits 20:13 / 29:13 of a 2 MiB / 1 GiB page's frame address)
 *   maps nothing, since a walk through it would fault with RSVD, and is
 *   listed in `invalid` instead (its subtree is not entered).
 * - Self-references (an entry pointing back to the root or to an ancestor,
 *   "recursive page tables") are followed, because the hardware follows them:
 *   the tables then appear as mapped data, as they do to the guest. Recursion
 *   depth is bounded by the number of levels, so the walk always ends, but
 *   the number of leaves reached through self-references can be huge (a root
 *   whose 512 slots all point to itself reaches 512^4 leaves). Two guards
 *   bound the work: `limit` caps the leaf and invalid entries enumerated
 *   (default 1,000,000; the result says `truncated: true` when it was hit),
 *   and a (table, level) pair whose subtree turned out empty is remembered,
 *   so an empty table referenced from many slots is scanned once.
 *
 * The formats differ only in `Walker` (walk32; PAE's PDPTEs in runPae, its
 * PDs and PTs through the long-mode walk with bits 62:52 reserved); the
 * range and merge logic does not depend on the format.
 */

import {
  PTE_P_BIT, PTE_RW_BIT, PTE_US_BIT, PTE_PWT_BIT, PTE_PCD_BIT, PTE_A_BIT, PTE_D_BIT, PTE_PS_BIT, PTE_G_BIT,
  PTE_PAT_LARGE_BIT, PTE_PK_SHIFT, PTE_XD_BIT, PTE_ADDR_TOP_BIT, EFER_NXE_BIT, CR4_PSE_BIT,
  PAGE_SHIFT, PAGE_SIZE, ENTRIES_PER_TABLE, LEVEL_PT, LEVEL_PD, LEVEL_PDPT, LEVEL_PML4, LEVEL_PML5,
} from "../arch/index.js";
import { type Address, toU64, hex } from "../base/index.js";
import { ArgumentError, show, showName, optionsOf } from "../base/index.js";
import { Mmu, tableFormatOf, type PageSize } from "../mmu/index.js";
import { LEVEL_NAMES, reservedBitsOf } from "../arch/index.js";

/** The table formats a page map reads: the paging modes but "off". */
export type TableFormat = "32-bit" | "pae" | "4-level" | "5-level";

/** How many of the leaves of a merged range have a flag set. */
export type FlagCount = "all" | "some" | "none";

/**
 * The rights and attributes of a mapped range.
 *
 * `writable`, `user` and `noExecute` are the effective rights of the whole
 * walk, not of the leaf alone: R/W and U/S are ANDed over every level (clear
 * in any entry clears them), XD is ORed (set in any entry sets it; always
 * false while EFER.NXE=0, where a set XD bit is reserved instead). What they
 * mean for an access further depends on CR0.WP, SMEP, SMAP and the
 * protection-key registers, which are not applied here.
 *
 * The others are the leaf entry's own bits: `global` (G; has effect only with
 * CR4.PGE=1), `pkey` (bits 62:59; used only with CR4.PKE / CR4.PKS), and the
 * memory-type bits `writeThrough` (PWT), `cacheDisable` (PCD) and `pat` (bit 7
 * of a PTE, bit 12 of a 2 MiB / 1 GiB leaf).
 *
 * `accessed` and `dirty` are the leaf entries' A and D flags (the A flags of
 * the tables above are not considered). They are not part of what a merge
 * compares, so that a range is not cut into pieces by which of its pages were
 * touched; they say instead whether all, some or none of the merged leaves
 * have the flag set.
 */
export interface MappedFlags {
  writable: boolean;
  user: boolean;
  noExecute: boolean;
  global: boolean;
  pkey: number;
  writeThrough: boolean;
  cacheDisable: boolean;
  pat: boolean;
  accessed: FlagCount;
  dirty: FlagCount;
}

/** A run of linear memory mapped by leaves of one page size with the same rights and attributes. */
export interface MappedRange {
  /** First linear address, canonical (sign-extended from bit 47, or bit 56 with 5 levels; 32 bits with 32-bit and PAE paging). */
  va: bigint;
  /** First physical address. */
  pa: bigint;
  /** Length in bytes (a multiple of the page size; 4 KiB for a reverse-lookup result). */
  size: bigint;
  /** The size of the leaf pages ("4M": a 4 MiB page of 32-bit paging). */
  pageSize: PageSize | "4M";
  /** The level of the leaf entries: 1 (PTE, 4 KiB), 2 (PDE, 2 MiB or 4 MiB) or 3 (PDPTE, 1 GiB). */
  leafLevel: number;
  /** How many leaf entries were merged into the range (1 for a reverse-lookup result). */
  pages: number;
  /** Physical address of the first leaf entry (the one mapping `va`). */
  entryAddr: bigint;
  flags: MappedFlags;
}

/** A present entry that maps nothing because a walk through it faults with a reserved-bit violation. */
export interface InvalidEntry {
  /** First linear address the entry would cover (canonical). */
  va: bigint;
  /** Bytes of linear memory the entry would cover (512 GiB for a PML4E, 4 MiB for a 32-bit PDE, 4 KiB for a PTE, ...). */
  size: bigint;
  /** 5 = PML5E .. 1 = PTE (3 = a PAE PDPTE). */
  level: number;
  /** "PML5", "PML4", "PDPT", "PD" or "PT": the table the entry is in (PDPT for a PAE PDPTE). */
  levelName: string;
  /** Physical address of the entry. */
  entryAddr: bigint;
  /** The entry's value. */
  entry: bigint;
  /** Which reserved bits are set, in words (as `explain` words them). */
  reason: string;
}

export interface PageMapOptions {
  /**
   * Physical address of the root table (default: from CR3). 4 KiB aligned
   * below 2^MAXPHYADDR; below 4 GiB for 32-bit paging; for PAE the PDPT's
   * address, 32-byte aligned below 4 GiB (its PDPTEs are then read from memory).
   */
  root?: Address;
  /** The table format (default: the paging mode's; see the module comment for CR0.PG=0). */
  mode?: TableFormat;
  /** Paging levels, 4 or 5: the same as mode "4-level" or "5-level". */
  levels?: 4 | 5;
  /**
   * The most leaf and invalid entries to enumerate before stopping (default
   * 1,000,000). Bounds the work through self-referencing tables; the result
   * says `truncated: true` when the walk stopped early.
   */
  limit?: number;
}

export interface PageMap {
  /** The mapped ranges, by ascending linear address (the lower half first, then the kernel half). */
  ranges: MappedRange[];
  /** Present entries with reserved bits set, in the order of the linear addresses they would cover. */
  invalid: InvalidEntry[];
  /** True when `limit` stopped the walk: the lists cover only the start of the address space. */
  truncated: boolean;
  /** The root, format and level count walked (2 for 32-bit paging, 3 for PAE). */
  root: bigint;
  mode: TableFormat;
  levels: 2 | 3 | 4 | 5;
}

export interface ReverseLookup {
  /** The 4 KiB frame looked up (`pa` rounded down). */
  frame: bigint;
  /**
   * Every linear page that maps the frame, by ascending linear address, each
   * 4 KiB long: `va` is the piece of the leaf page that lands on the frame,
   * `pageSize` and `leafLevel` say which kind of leaf maps it, `entryAddr`
   * is that leaf's entry and `flags` its effective rights.
   */
  ranges: MappedRange[];
  /** True when `limit` stopped the walk before the whole tree was searched. */
  truncated: boolean;
}

/** The default of `PageMapOptions.limit`. */
export const PAGE_MAP_DEFAULT_LIMIT = 1_000_000;

// ---- The walk ----

/** Bits of the linear address each level translates (9). */
const INDEX_BITS = Math.log2(ENTRIES_PER_TABLE);
const ENTRY_BYTES = 8;
const TWO_32 = 2 ** 32;
/** Bits 31:12 of the low word of an entry, as an unsigned number. */
const ADDR_LO_MASK = ~(PAGE_SIZE - 1) >>> 0;
/** Bits 51:32 of an entry, in its high word. */
const ADDR_HI_MASK = 2 ** (PTE_ADDR_TOP_BIT + 1 - 32) - 1;
const XD_HI_BIT = PTE_XD_BIT - 32;
const PK_HI_SHIFT = PTE_PK_SHIFT - 32;
const P = 1 << PTE_P_BIT;
const RW = 1 << PTE_RW_BIT;
const US = 1 << PTE_US_BIT;
const PWT = 1 << PTE_PWT_BIT;
const PCD = 1 << PTE_PCD_BIT;
const A = 1 << PTE_A_BIT;
const D = 1 << PTE_D_BIT;
const PS = 1 << PTE_PS_BIT;
const G = 1 << PTE_G_BIT;
const PAT_LARGE = 1 << PTE_PAT_LARGE_BIT;

// The packed merge key: effective rights and the leaf's attributes (A and D excluded).
const K_W = 1;
const K_U = 2;
const K_XD = 4;
const K_G = 8;
const K_PWT = 16;
const K_PCD = 32;
const K_PAT = 64;
const K_PKEY_SHIFT = 7;

const PAGE_SIZE_OF: Record<number, PageSize> = { [LEVEL_PT]: "4K", [LEVEL_PD]: "2M", [LEVEL_PDPT]: "1G" };
const pageSizeOf = (setup: WalkSetup, level: number): PageSize | "4M" => (setup.mode === "32-bit" && level === LEVEL_PD ? "4M" : PAGE_SIZE_OF[level]!);
/** log2 of the linear bytes an entry at `level` covers. */
const entryShift = (setup: WalkSetup, level: number): number => (setup.mode === "32-bit" ? PAGE_SHIFT + 10 * (level - 1) : PAGE_SHIFT + INDEX_BITS * (level - 1));
/** PAE: bits 62:52 of a PDE or PTE are reserved (with 51:MAXPHYADDR), here as bits of the high word. */
const PAE_HI_RESERVED = 0x7ff00000;
/** PAE: the bits a present PDPTE may not set below bit 12: 2:1 and 8:5 (SDM 4.4.1). */
const PDPTE_LOW_RESERVED = 0x1e6;
/** Tables kept in memory during one walk (4 MiB at most); further tables are re-read when revisited. */
const TABLE_CACHE_MAX = 1024;

/** A leaf as the walk reports it: page numbers (address >> 12) as exact numbers. */
interface Leaf {
  vpn: number;
  pfn: number;
  /** 4 KiB pages the leaf covers: 1, 512, 1024 (a 4 MiB page) or 262144. */
  span: number;
  level: number;
  key: number;
  accessed: boolean;
  dirty: boolean;
  entryAddr: number;
}

interface WalkSetup {
  root: number;
  mode: TableFormat;
  levels: 2 | 3 | 4 | 5;
  limit: number;
  maxPhyAddr: number;
  nxe: boolean;
  /** CR4.PSE: a 32-bit PDE with PS=1 maps 4 MiB. */
  pse: boolean;
  /** PAE: the four PDPTEs. */
  pdptes: bigint[];
}

class Walker {
  private readonly tables = new Map<number, DataView>();
  /** (table, level) pairs whose subtree holds no leaf and no invalid entry. */
  private readonly empty = new Set<number>();
  private readonly physLimit: number;
  /** Leaf and invalid entries enumerated so far. */
  private count = 0;
  truncated = false;

  constructor(
    private readonly mmu: Mmu,
    private readonly setup: WalkSetup,
    private readonly onLeaf: (leaf: Leaf) => void,
    private readonly onInvalid: (vpn: number, level: number, entryAddr: number, lo: number, hi: number) => void,
  ) {
    this.physLimit = 2 ** setup.maxPhyAddr;
  }

  run(): void {
    if (this.setup.mode === "32-bit") this.walk32();
    else if (this.setup.mode === "pae") this.runPae();
    else this.walk(this.setup.root, this.setup.levels, 0, true, true, false);
  }

  /** Counts one more leaf or invalid entry; false (truncated) when the limit is reached. */
  private more(): boolean {
    if (this.count >= this.setup.limit) {
      this.truncated = true;
      return false;
    }
    this.count++;
    return true;
  }

  /**
   * 32-bit paging (SDM 4.3): the page directory at the root, 1024 4-byte
   * PDEs; a PDE with PS=1 maps 4 MiB when CR4.PSE=1, with bits 21:M-19
   * reserved (M = min(MAXPHYADDR, 40)) and PA bits 39:32 in bits 20:13;
   * otherwise it references a page table of 1024 4-byte PTEs. No other bit
   * is reserved; there is no XD and no protection key.
   */
  private walk32(): void {
    const { root, pse } = this.setup;
    const m = Math.min(this.setup.maxPhyAddr, 40);
    const reserved4M = ((2 ** 22 - 1) & ~(2 ** (m - 19) - 1)) >>> 0;
    const highMask = 2 ** (m - 32) - 1;
    const pd = this.table(root);
    for (let i = 0; i < 1024; i++) {
      const pde = pd.getUint32(i * 4, true);
      if ((pde & P) === 0) continue;
      const vpn = i * 1024;
      const pdeAddr = root + i * 4;
      if (pse && (pde & PS) !== 0) {
        if (!this.more()) return;
        if ((pde & reserved4M) !== 0) {
          this.onInvalid(vpn, LEVEL_PD, pdeAddr, pde, 0);
          continue;
        }
        const frame = ((pde & 0xffc00000) >>> 0) + ((pde >>> 13) & highMask) * TWO_32;
        const key = leafKey((pde & RW) !== 0, (pde & US) !== 0, false, pde, 0, (pde & PAT_LARGE) !== 0);
        this.onLeaf({ vpn, pfn: frame / PAGE_SIZE, span: 1024, level: LEVEL_PD, key, accessed: (pde & A) !== 0, dirty: (pde & D) !== 0, entryAddr: pdeAddr });
        continue;
      }
      const ptAddr = (pde & ADDR_LO_MASK) >>> 0;
      const memoKey = (ptAddr / PAGE_SIZE) * 8 + LEVEL_PT;
      if (this.empty.has(memoKey)) continue;
      const pt = this.table(ptAddr);
      let found = false;
      for (let j = 0; j < 1024; j++) {
        const pte = pt.getUint32(j * 4, true);
        if ((pte & P) === 0) continue;
        if (!this.more()) return;
        found = true;
        // Bit 7 of a PTE is PAT.
        const key = leafKey((pde & pte & RW) !== 0, (pde & pte & US) !== 0, false, pte, 0, (pte & PS) !== 0);
        this.onLeaf({ vpn: vpn + j, pfn: ((pte & ADDR_LO_MASK) >>> 0) / PAGE_SIZE, span: 1, level: LEVEL_PT, key, accessed: (pte & A) !== 0, dirty: (pte & D) !== 0, entryAddr: ptAddr + j * 4 });
      }
      if (!found) this.empty.add(memoKey);
    }
  }

  /**
   * PAE paging (SDM 4.4): the four PDPTEs (`setup.pdptes`), each present one
   * referencing a page directory covering 1 GiB; a PDPTE with a reserved bit
   * (2:1, 8:5, 63:MAXPHYADDR) is invalid. The PDs and PTs are 8-byte tables
   * read as in long mode, with bits 62:52 reserved too. A PDPTE gives no rights.
   */
  private runPae(): void {
    const { root, pdptes, maxPhyAddr } = this.setup;
    const physMask = (1n << BigInt(maxPhyAddr)) - 1n;
    for (let s = 0; s < 4; s++) {
      const e = pdptes[s]!;
      if ((e & BigInt(P)) === 0n) continue;
      const vpn = s * 2 ** (2 * INDEX_BITS);
      if ((e & (BigInt(PDPTE_LOW_RESERVED) | ~physMask)) !== 0n) {
        if (!this.more()) return;
        this.onInvalid(vpn, LEVEL_PDPT, root + s * ENTRY_BYTES, Number(e & 0xffffffffn), Number(e >> 32n));
        continue;
      }
      this.walk(Number(e & BigInt(ADDR_HI_MASK * TWO_32 + ADDR_LO_MASK)), LEVEL_PD, vpn, true, true, false);
      if (this.truncated) return;
    }
  }

  private table(pa: number): DataView {
    let dv = this.tables.get(pa);
    if (dv === undefined) {
      const bytes = this.mmu.memory.readBytes(BigInt(pa), PAGE_SIZE);
      dv = new DataView(bytes.buffer, bytes.byteOffset, PAGE_SIZE);
      if (this.tables.size < TABLE_CACHE_MAX) this.tables.set(pa, dv);
    }
    return dv;
  }

  /**
   * Walks the table at physical `table` as a level-`level` table covering
   * linear pages from `vpnBase`, with the rights accumulated above it.
   * Returns whether the subtree reported anything (a leaf or an invalid entry).
   */
  private walk(table: number, level: number, vpnBase: number, w: boolean, u: boolean, xd: boolean): boolean {
    const memoKey = (table / PAGE_SIZE) * 8 + level;
    if (this.empty.has(memoKey)) return false;
    const dv = this.table(table);
    const span = 2 ** (INDEX_BITS * (level - 1));
    const shift = PAGE_SHIFT + INDEX_BITS * (level - 1);
    // Bits between the PAT bit (12) and the frame address of a large page: reserved.
    const largeLow = level > LEVEL_PT && level <= LEVEL_PDPT ? ((2 ** shift - 1) & ~(2 * PAGE_SIZE - 1)) >>> 0 : 0;
    const { nxe } = this.setup;
    const pae = this.setup.mode === "pae";
    let found = false;
    for (let i = 0; i < ENTRIES_PER_TABLE; i++) {
      const lo = dv.getUint32(i * ENTRY_BYTES, true);
      if ((lo & P) === 0) continue;
      if (this.count >= this.setup.limit) {
        this.truncated = true;
        return true;
      }
      const hi = dv.getUint32(i * ENTRY_BYTES + 4, true);
      const vpn = vpnBase + i * span;
      const entryAddr = table + i * ENTRY_BYTES;
      const addr = ((lo & ADDR_LO_MASK) >>> 0) + (hi & ADDR_HI_MASK) * TWO_32;
      const entryXd = (hi >>> XD_HI_BIT) & 1;
      const leaf = level === LEVEL_PT || (level <= LEVEL_PDPT && (lo & PS) !== 0);
      const reserved =
        addr >= this.physLimit ||
        (pae && (hi & PAE_HI_RESERVED) !== 0) ||
        (!nxe && entryXd !== 0) ||
        (level >= LEVEL_PML4 && (lo & PS) !== 0) ||
        (leaf && (lo & largeLow) !== 0);
      if (reserved) {
        this.count++;
        found = true;
        this.onInvalid(vpn, level, entryAddr, lo, hi);
        continue;
      }
      const ew = w && (lo & RW) !== 0;
      const eu = u && (lo & US) !== 0;
      const exd = xd || entryXd !== 0;
      if (!leaf) {
        if (this.walk(addr, level - 1, vpn, ew, eu, exd)) found = true;
        if (this.truncated) return true;
        continue;
      }
      this.count++;
      found = true;
      const large = level !== LEVEL_PT;
      const pat = large ? (lo & PAT_LARGE) !== 0 : (lo & PS) !== 0;
      const frame = large ? ((lo & ~(2 ** shift - 1)) >>> 0) + (hi & ADDR_HI_MASK) * TWO_32 : addr;
      const key = leafKey(ew, eu, exd, lo, hi, pat);
      this.onLeaf({ vpn, pfn: frame / PAGE_SIZE, span, level, key, accessed: (lo & A) !== 0, dirty: (lo & D) !== 0, entryAddr });
    }
    if (!found) this.empty.add(memoKey);
    return found;
  }
}

/** The packed merge key of a leaf with effective rights `ew`, `eu`, `exd` (entry words `lo`, `hi`). */
function leafKey(ew: boolean, eu: boolean, exd: boolean, lo: number, hi: number, pat: boolean): number {
  let key = (ew ? K_W : 0) | (eu ? K_U : 0) | (exd ? K_XD : 0) | ((lo & G) !== 0 ? K_G : 0);
  key |= ((lo & PWT) !== 0 ? K_PWT : 0) | ((lo & PCD) !== 0 ? K_PCD : 0) | (pat ? K_PAT : 0);
  return key | (((hi >>> PK_HI_SHIFT) & 0xf) << K_PKEY_SHIFT);
}

const LEVELS_OF: Record<TableFormat, 2 | 3 | 4 | 5> = { "32-bit": 2, pae: 3, "4-level": 4, "5-level": 5 };

function setupOf(mmu: Mmu, options: PageMapOptions | undefined): WalkSetup {
  if (!(mmu instanceof Mmu)) throw new ArgumentError(`a page map needs an Mmu, not ${show(mmu)}`);
  options = optionsOf(options, "page-map options");
  const maxPhyAddr = mmu.maxPhyAddr;
  if (options.levels !== undefined && options.levels !== LEVEL_PML4 && options.levels !== LEVEL_PML5) throw new ArgumentError(`levels ${show(options.levels)} is not 4 or 5`);
  if (options.mode !== undefined && !(typeof options.mode === "string" && Object.hasOwn(LEVELS_OF, options.mode))) throw new ArgumentError(`mode ${showName(options.mode)} is not "32-bit", "pae", "4-level" or "5-level"`);
  const fromLevels = options.levels === undefined ? undefined : options.levels === LEVEL_PML5 ? "5-level" : "4-level";
  if (options.mode !== undefined && fromLevels !== undefined && options.mode !== fromLevels) throw new ArgumentError(`mode ${options.mode} and levels ${options.levels} disagree`);
  const state = mmu.state;
  const mode = options.mode ?? fromLevels ?? tableFormatOf(state);
  const legacy = mode === "32-bit" || mode === "pae";
  const rootMask = mode === "32-bit" ? 0xfffff000n : mode === "pae" ? 0xffffffe0n : 0x000ffffffffff000n;
  const root = options.root === undefined ? state.cr3 & rootMask : toU64(options.root, "root table address");
  const align = mode === "pae" ? 32n : BigInt(PAGE_SIZE);
  const top = legacy ? 32 : maxPhyAddr;
  if (root % align !== 0n || root >= 1n << BigInt(top)) {
    throw new ArgumentError(`root table address ${hex(root)} is not ${align === 32n ? "32-byte" : "4 KiB"} aligned below 2^${top}${legacy ? ` (${mode} paging)` : ""}`);
  }
  const limit = options.limit ?? PAGE_MAP_DEFAULT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new ArgumentError(`limit ${show(limit)} is not a positive integer`);
  const nxe = ((state.efer >> BigInt(EFER_NXE_BIT)) & 1n) !== 0n;
  const pse = ((state.cr4 >> BigInt(CR4_PSE_BIT)) & 1n) !== 0n;
  let pdptes: bigint[] = [];
  if (mode === "pae") {
    // The registers when the walk uses them (PAE paging on, CR3's PDPT); else the PDPT in memory.
    if (options.root === undefined && mmu.pagingMode === "pae") pdptes = mmu.pdptes;
    else {
      const dv = new DataView(mmu.memory.readBytes(root, 4 * ENTRY_BYTES).buffer);
      pdptes = [0, 1, 2, 3].map((i) => dv.getBigUint64(i * ENTRY_BYTES, true));
    }
  }
  return { root: Number(root), mode, levels: LEVELS_OF[mode], limit, maxPhyAddr, nxe, pse, pdptes };
}

/**
 * Linear address of page number `vpn`: sign-extended from the top bit of the
 * `levels`-level address width (4 or 5); as it is with 32-bit and PAE paging.
 */
function canonicalVa(vpn: number, levels: 2 | 3 | 4 | 5): bigint {
  const va = BigInt(vpn) << BigInt(PAGE_SHIFT);
  if (levels < LEVEL_PML4) return va;
  const width = BigInt(PAGE_SHIFT + INDEX_BITS * levels);
  return (va >> (width - 1n)) & 1n ? va | (((1n << 64n) - 1n) ^ ((1n << width) - 1n)) : va;
}

function flagsOf(key: number, accessed: FlagCount, dirty: FlagCount): MappedFlags {
  return {
    writable: (key & K_W) !== 0,
    user: (key & K_U) !== 0,
    noExecute: (key & K_XD) !== 0,
    global: (key & K_G) !== 0,
    pkey: key >>> K_PKEY_SHIFT,
    writeThrough: (key & K_PWT) !== 0,
    cacheDisable: (key & K_PCD) !== 0,
    pat: (key & K_PAT) !== 0,
    accessed,
    dirty,
  };
}

function invalidOf(setup: WalkSetup, mmu: Mmu, vpn: number, level: number, entryAddr: number, lo: number, hi: number): InvalidEntry {
  const entry = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  const state = mmu.state;
  const cpu = { cr0: state.cr0, cr3: state.cr3, cr4: state.cr4, efer: state.efer, pkru: BigInt(state.pkru), pkrs: BigInt(state.pkrs), maxphyaddr: setup.maxPhyAddr };
  const shape = setup.mode === "32-bit" || setup.mode === "pae" ? setup.mode : "long";
  return {
    va: canonicalVa(vpn, setup.levels),
    size: 1n << BigInt(entryShift(setup, level)),
    level,
    levelName: LEVEL_NAMES[level]!,
    entryAddr: BigInt(entryAddr),
    entry,
    reason:
      setup.mode === "pae" && level === LEVEL_PDPT
        ? `reserved bit set in a PDPTE: bits 2:1, 8:5 or 63:${setup.maxPhyAddr} (MAXPHYADDR)`
        : reservedBitsOf(level, entry, cpu, shape),
  };
}

const countOf = (set: number, of: number): FlagCount => (set === 0 ? "none" : set === of ? "all" : "some");

/**
 * The linear address space of a page-table tree as ranges (see the module
 * comment for what the walk checks and does not touch).
 *
 * Leaves are merged into one range when the next leaf starts where the range
 * ends, both virtually and physically, has the same page size, and has the
 * same effective rights and attributes (W, U, XD, G, protection key, PWT,
 * PCD, PAT); accessed and dirty are not compared (see `MappedFlags`). A range
 * never crosses the non-canonical hole between the lower and the kernel half.
 * Ranges come by ascending (canonical, unsigned) linear address.
 *
 * Throws ArgumentError for a root that is not aligned (4 KiB; 32 bytes for
 * a PAE PDPT) below 2^MAXPHYADDR (below 4 GiB for 32-bit and PAE paging),
 * levels other than 4 or 5, a mode that is not a table format or disagrees
 * with levels, or a limit that is not a positive integer.
 */
export function pageMap(mmu: Mmu, options: PageMapOptions = {}): PageMap {
  const setup = setupOf(mmu, options);
  // Page numbers of the kernel half start here (before sign extension).
  const upperHalf = setup.levels >= LEVEL_PML4 ? 2 ** (INDEX_BITS * setup.levels - 1) : -1;
  const ranges: MappedRange[] = [];
  const invalid: InvalidEntry[] = [];
  let cur: Leaf | undefined;
  let curPages = 0; // 4 KiB pages in the current range
  let curLeaves = 0;
  let curA = 0;
  let curD = 0;
  const flush = (): void => {
    if (cur === undefined) return;
    ranges.push({
      va: canonicalVa(cur.vpn, setup.levels),
      pa: BigInt(cur.pfn) << BigInt(PAGE_SHIFT),
      size: BigInt(curPages) << BigInt(PAGE_SHIFT),
      pageSize: pageSizeOf(setup, cur.level),
      leafLevel: cur.level,
      pages: curLeaves,
      entryAddr: BigInt(cur.entryAddr),
      flags: flagsOf(cur.key, countOf(curA, curLeaves), countOf(curD, curLeaves)),
    });
    cur = undefined;
  };
  const walker = new Walker(
    mmu,
    setup,
    (leaf) => {
      if (
        cur !== undefined &&
        leaf.level === cur.level &&
        leaf.key === cur.key &&
        leaf.vpn === cur.vpn + curPages &&
        leaf.pfn === cur.pfn + curPages &&
        leaf.vpn !== upperHalf
      ) {
        curPages += leaf.span;
        curLeaves++;
      } else {
        flush();
        cur = leaf;
        curPages = leaf.span;
        curLeaves = 1;
        curA = 0;
        curD = 0;
      }
      if (leaf.accessed) curA++;
      if (leaf.dirty) curD++;
    },
    (vpn, level, entryAddr, lo, hi) => invalid.push(invalidOf(setup, mmu, vpn, level, entryAddr, lo, hi)),
  );
  walker.run();
  flush();
  return { ranges, invalid, truncated: walker.truncated, root: BigInt(setup.root), mode: setup.mode, levels: setup.levels };
}

/**
 * Every linear page of the tree (default: CR3's) that maps the 4 KiB frame
 * containing physical `pa`, with its effective rights: aliases each appear,
 * and a 2 MiB or 1 GiB page that covers the frame appears once, as the 4 KiB
 * piece of it that lands on the frame. Results are not merged (they all map
 * the same frame) and come by ascending linear address. The whole tree is
 * searched (there is no index from frames to entries), with the same limit
 * and the same checks as `pageMap`: an invalid entry maps nothing here.
 *
 * Throws ArgumentError for an address outside 0..2^64-1 and for bad options
 * (as pageMap).
 */
export function reverseLookup(mmu: Mmu, pa: Address, options: PageMapOptions = {}): ReverseLookup {
  const frame = toU64(pa, "physical address") & ~BigInt(PAGE_SIZE - 1);
  const setup = setupOf(mmu, options);
  const target = Number(frame >> BigInt(PAGE_SHIFT));
  const ranges: MappedRange[] = [];
  const walker = new Walker(
    mmu,
    setup,
    (leaf) => {
      const off = target - leaf.pfn;
      if (off < 0 || off >= leaf.span) return;
      const yes = (f: boolean): FlagCount => (f ? "all" : "none");
      ranges.push({
        va: canonicalVa(leaf.vpn + off, setup.levels),
        pa: frame,
        size: BigInt(PAGE_SIZE),
        pageSize: pageSizeOf(setup, leaf.level),
        leafLevel: leaf.level,
        pages: 1,
        entryAddr: BigInt(leaf.entryAddr),
        flags: flagsOf(leaf.key, yes(leaf.accessed), yes(leaf.dirty)),
      });
    },
    () => {},
  );
  walker.run();
  return { frame, ranges, truncated: walker.truncated };
}
