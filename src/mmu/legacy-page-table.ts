/**
 * Building page tables for the legacy paging modes: 32-bit paging (SDM Vol.
 * 3A 4.3) and PAE paging (4.4), with map / unmap / protect over ranges as
 * `PageTable` does for 4- and 5-level paging.
 *
 * The formats:
 *
 *   32-bit   CR3 -> page directory (1024 4-byte PDEs, linear bits 31:22)
 *                   -> page table (1024 4-byte PTEs, bits 21:12) -> 4 KiB page
 *                   or a PDE with PS=1: a 4 MiB page (with CR4.PSE=1), whose
 *                   frame address is bits 31:22 of the PDE plus, PSE-36, bits
 *                   39:32 in PDE bits 20:13 (limited by M = min(MAXPHYADDR, 40))
 *   PAE      CR3[31:5] -> PDPT (4 8-byte PDPTEs, linear bits 31:30)
 *                   -> page directory (512 8-byte PDEs, bits 29:21)
 *                   -> page table (512 8-byte PTEs, bits 20:12) -> 4 KiB page
 *                   or a PDE with PS=1: a 2 MiB page
 *
 * Linear addresses have 32 bits: ranges end at 4 GiB at the latest.
 *
 * The contract is `PageTable`'s: each call checks its whole range and takes
 * every frame it may need before it writes an entry, so a refused call
 * (MappingError ALREADY_MAPPED, SPLITS_LARGE_PAGE, NO_FRAME) changes nothing;
 * tables it creates have P, R/W and U/S set, so the leaves decide the rights;
 * unmap and protect invalidate the TLB for the range. A PDPTE has no R/W, U/S
 * or A bit (they are reserved there, and a reserved bit makes the PDPTE load
 * #GP): the builder sets P and the address only.
 *
 * PAE's PDPTEs are registers, loaded from memory at MOV to CR3: a PDPTE the
 * builder wrote after that load is not seen until the next one. So a PAE
 * table from `create` gets its four page directories at once (as Linux does
 * for PAE) and its PDPTEs never change afterwards; only a PDPT taken over with
 * `at` may get a PDPTE later, and then needs `mmu.reloadPdptes()` (or a MOV to
 * CR3) before the walk uses it.
 *
 * Why a host-side builder rather than an entry width and a level layout in
 * the core's builder (assembly/pagetable.ts): the legacy formats differ from
 * the long-mode tree in more than the entry width — the 4-entry PDPT with its
 * own entry format and no rights, PSE-36's split frame address, tables that
 * must lie below 4 GiB, a 32-bit linear space — and a legacy tree is small
 * (at most 1 + 1024 tables, or 1 + 4 + 2048), built once by a boot loader or
 * a test and never on a hot path. Parameterising the core's walk-and-count
 * passes for all of that would touch every line of the long-mode builder,
 * which is the fast one and the one VmSpace depends on; here each format is a
 * small table of levels, read and written through PhysicalMemory (which keeps
 * the dirty log and snapshots right), and the long-mode builder is unchanged.
 */

import { PTE_P_BIT, PTE_RW_BIT, PTE_US_BIT, PTE_PS_BIT, PTE_XD_BIT, PAGE_SIZE, CR4_PAE_BIT, CR4_LA57_BIT, EFER_LME_BIT } from "../arch/index.js";
import { type Address, toU64, lo32, hi32, hex } from "../base/index.js";
import type { Core } from "../core/index.js";
import { ArgumentError, MappingError, show, showName, optionsOf } from "../base/index.js";
import type { PhysicalMemory } from "../phys/index.js";
import { pteBits, type PteFlags } from "./page-table.js";

/** The legacy paging modes this builder writes tables for. */
export type LegacyMode = "32-bit" | "pae";

/** Page sizes of the legacy modes: 4 KiB in both, 4 MiB with 32-bit paging, 2 MiB with PAE. */
export type LegacyPageSize = "4K" | "2M" | "4M";
export const LEGACY_PAGE_BYTES: Record<LegacyPageSize, bigint> = { "4K": 0x1000n, "2M": 0x200000n, "4M": 0x400000n };

export interface LegacyPageTableOptions {
  /** "32-bit" (CR4.PAE=0) or "pae" (CR4.PAE=1, EFER.LME=0). */
  mode: LegacyMode;
}

export interface LegacyMapOptions {
  /** Page size (default "4K"; "4M" with 32-bit paging, "2M" with PAE). */
  size?: LegacyPageSize;
  /**
   * Leaf rights and attributes. 32-bit entries have no XD bit and neither
   * format has protection keys (ArgumentError). Raw bits (a bigint) may set
   * bits 11:0, and bit 63 (XD) with PAE.
   */
  flags?: PteFlags | bigint;
}

/** One level of a format: its number (as the walk counts them), the linear bits it translates and its table's entry count. */
interface Level {
  level: number;
  /** The lowest linear-address bit this level's index takes. */
  shift: number;
  entries: number;
}

interface Format {
  entryBytes: 4 | 8;
  /** Top level first. */
  levels: Level[];
  /** The size of a leaf PDE (PS=1). */
  large: "4M" | "2M";
  /** The bits of an entry that hold a table's address: 31:12, or 51:12. */
  addrMask: bigint;
  /** What raw leaf flags may set. */
  flagMask: bigint;
  /** The bits protect() replaces: R/W, U/S (and XD with PAE). */
  protectBits: bigint;
}

const b = (n: number): bigint => 1n << BigInt(n);
const P = b(PTE_P_BIT);
const RW = b(PTE_RW_BIT);
const US = b(PTE_US_BIT);
const PS = b(PTE_PS_BIT);
const XD = b(PTE_XD_BIT);
/** A PDE the builder creates for a page table: P, R/W, U/S. */
const TABLE_FLAGS = P | RW | US;
/** A PDPTE the builder creates: P only (R/W, U/S, A and the bits 8:5 are reserved in a PDPTE). */
const PDPTE_FLAGS = P;
const FOUR_GIB = 1n << 32n;

const FORMATS: Record<LegacyMode, Format> = {
  "32-bit": {
    entryBytes: 4,
    levels: [{ level: 2, shift: 22, entries: 1024 }, { level: 1, shift: 12, entries: 1024 }],
    large: "4M",
    addrMask: 0xfffff000n,
    flagMask: 0xfffn,
    protectBits: RW | US,
  },
  pae: {
    entryBytes: 8,
    levels: [{ level: 3, shift: 30, entries: 4 }, { level: 2, shift: 21, entries: 512 }, { level: 1, shift: 12, entries: 512 }],
    large: "2M",
    addrMask: 0x000ffffffffff000n,
    flagMask: 0xfffn | XD,
    protectBits: RW | US | XD,
  },
};

/**
 * The tables one call reads and writes, by 4 KiB frame: read once, changed in
 * place, written back together at the end (so nothing is written before the
 * whole call has been checked).
 */
class Frames {
  private readonly views = new Map<number, DataView>();
  private readonly dirty = new Set<number>();

  constructor(private readonly memory: PhysicalMemory, private readonly entryBytes: 4 | 8) {}

  private view(frame: number): DataView {
    let dv = this.views.get(frame);
    if (dv === undefined) {
      const bytes = this.memory.readBytes(BigInt(frame), PAGE_SIZE);
      dv = new DataView(bytes.buffer, bytes.byteOffset, PAGE_SIZE);
      this.views.set(frame, dv);
    }
    return dv;
  }

  get(ea: number): bigint {
    const off = ea % PAGE_SIZE;
    const dv = this.view(ea - off);
    return this.entryBytes === 4 ? BigInt(dv.getUint32(off, true)) : dv.getBigUint64(off, true);
  }

  set(ea: number, value: bigint): void {
    const off = ea % PAGE_SIZE;
    const dv = this.view(ea - off);
    if (this.entryBytes === 4) dv.setUint32(off, Number(value), true);
    else dv.setBigUint64(off, value, true);
    this.dirty.add(ea - off);
  }

  /** Writes the changed frames back. */
  flush(): void {
    for (const f of this.dirty) {
      const dv = this.views.get(f)!;
      this.memory.writeBytes(BigInt(f), new Uint8Array(dv.buffer, dv.byteOffset, PAGE_SIZE));
    }
    this.dirty.clear();
  }
}

export class LegacyPageTable {
  private readonly format: Format;

  private constructor(
    private readonly core: Core,
    private readonly memory: PhysicalMemory,
    /**
     * What CR3 holds: the page directory's address (32-bit paging; 4 KiB
     * aligned) or the PDPT's (PAE; 32-byte aligned), below 4 GiB.
     */
    readonly root: bigint,
    readonly mode: LegacyMode,
  ) {
    this.format = FORMATS[mode];
  }

  /**
   * A new, empty tree: a zeroed page directory from the frame allocator
   * (32-bit), or a zeroed PDPT whose four PDPTEs point to four zeroed page
   * directories (PAE). Throws MappingError NO_FRAME (taking nothing) when the
   * allocator has no frame below 4 GiB for the root.
   */
  static create(core: Core, memory: PhysicalMemory, mode: LegacyMode): LegacyPageTable {
    if (mode !== "32-bit" && mode !== "pae") throw new ArgumentError(`mode ${showName(mode)} is not "32-bit" or "pae"`);
    const taken: bigint[] = [];
    try {
      const root = memory.allocFrame();
      taken.push(root);
      if (root >= FOUR_GIB) throw new MappingError("NO_FRAME", `no free frame below 4 GiB for the ${mode === "pae" ? "PDPT" : "page directory"} (CR3 has 32 bits)`);
      if (mode === "pae") {
        for (let i = 0n; i < 4n; i++) {
          const pd = memory.allocFrame();
          taken.push(pd);
          memory.write(root + i * 8n, 8, pd | PDPTE_FLAGS);
        }
      }
      return new LegacyPageTable(core, memory, root, mode);
    } catch (e) {
      for (const f of taken) memory.freeFrame(f);
      throw e;
    }
  }

  /** The tree whose root (what CR3 holds) is `root`: 4 KiB aligned (32-bit) or 32-byte aligned (PAE), below 4 GiB. */
  static at(core: Core, memory: PhysicalMemory, root: Address, mode: LegacyMode): LegacyPageTable {
    if (mode !== "32-bit" && mode !== "pae") throw new ArgumentError(`mode ${showName(mode)} is not "32-bit" or "pae"`);
    const r = toU64(root, "root table address");
    const align = mode === "pae" ? 32n : 0x1000n;
    if (r % align !== 0n || r >= FOUR_GIB) throw new ArgumentError(`root ${hex(r)} is not ${align === 32n ? "32-byte" : "4 KiB"} aligned below 4 GiB`);
    return new LegacyPageTable(core, memory, r, mode);
  }

  private range(va: Address, len: Address, align: bigint): [number, number] {
    const v = toU64(va, "linear address");
    const l = toU64(len, "length");
    if (v % align !== 0n || l % align !== 0n) throw new ArgumentError(`range ${hex(v)}+${hex(l)} is not aligned to ${hex(align)}`);
    if (v + l > FOUR_GIB) throw new ArgumentError(`range ${hex(v)}+${hex(l)} reaches past 4 GiB: ${this.mode} paging has 32-bit linear addresses`);
    return [Number(v), Number(l)];
  }

  /** The entry bits for `flags` in this format (P set). */
  private leafFlags(flags: PteFlags | bigint): bigint {
    if (typeof flags === "bigint") {
      if ((flags & ~this.format.flagMask) !== 0n) {
        throw new ArgumentError(`raw flags ${hex(flags)} set bits outside ${this.mode === "pae" ? "11:0 and 63 (XD)" : "11:0"}, which a ${this.mode} leaf keeps for the address`);
      }
      return flags | P;
    }
    if (typeof flags !== "object" || flags === null) return pteBits(flags); // throws ArgumentError
    if (flags.pkey) throw new ArgumentError(`protection keys need 4- or 5-level paging (bits 62:59 are ${this.mode === "pae" ? "reserved in a PAE entry" : "not in a 32-bit entry"})`);
    if (flags.noExecute && this.mode === "32-bit") throw new ArgumentError("32-bit paging has no execute-disable (XD) bit: use PAE paging with EFER.NXE=1");
    return pteBits(flags);
  }

  private entryAddr(table: bigint, lv: Level, va: number): number {
    return Number(table) + (Math.floor(va / 2 ** lv.shift) % lv.entries) * this.format.entryBytes;
  }

  /** The entry of a leaf of `size` mapping physical `pa`. */
  private leafEntry(pa: bigint, large: boolean, flags: bigint): bigint {
    if (!large) return pa | flags;
    if (this.mode === "pae") return pa | PS | flags;
    // PSE-36: PA bits 31:22 stay in place, bits 39:32 go to PDE bits 20:13 (SDM 4.3, Table 4-4).
    return (pa & 0xffc00000n) | ((pa >> 32n) << 13n) | PS | flags;
  }

  /**
   * Maps `len` bytes of linear memory from `va` to physical memory from `pa`
   * with pages of `size` (both aligned to it; the linear range below 4 GiB).
   * The physical range lies below 4 GiB for 4 KiB pages of 32-bit paging,
   * below 2^min(MAXPHYADDR, 40) for its 4 MiB pages (PSE-36), below
   * 2^MAXPHYADDR with PAE. Refuses with MappingError (ALREADY_MAPPED,
   * SPLITS_LARGE_PAGE, NO_FRAME), changing nothing, when a page of the range
   * is mapped already, a large page is in the way, or frames for new tables
   * (below 4 GiB with 32-bit paging) cannot be had. A large page may replace
   * a page table that maps nothing (left empty by unmap); that table is freed.
   */
  map(va: Address, pa: Address, len: Address, options?: LegacyMapOptions): void {
    options = optionsOf(options, "map options");
    const size = options.size ?? "4K";
    const fmt = this.format;
    if (size !== "4K" && size !== fmt.large) {
      throw new ArgumentError(`page size ${showName(size)} is not "4K" or "${fmt.large}" (${this.mode} paging)`);
    }
    const bytes = LEGACY_PAGE_BYTES[size];
    const [v, l] = this.range(va, len, bytes);
    const p = toU64(pa, "physical address");
    if (p % bytes !== 0n) throw new ArgumentError(`physical address ${hex(p)} is not aligned to ${size}`);
    const width = this.mode === "pae" ? this.memory.maxPhyAddr : size === "4M" ? Math.min(this.memory.maxPhyAddr, 40) : 32;
    if (p + BigInt(l) > 1n << BigInt(width)) {
      throw new ArgumentError(`physical range ${hex(p)}+${hex(l)} reaches past 2^${width}, the limit of ${size} pages with ${this.mode} paging${this.mode === "pae" ? " (MAXPHYADDR)" : size === "4M" ? " (PSE-36: min(MAXPHYADDR, 40))" : ""}`);
    }
    if (l === 0) return;
    const flags = this.leafFlags(options.flags ?? {});
    const large = size !== "4K";
    const leafLevel = large ? 2 : 1;
    const step = Number(bytes);
    const frames = new Frames(this.memory, fmt.entryBytes);
    const upper = fmt.levels.filter((lv) => lv.level > leafLevel);
    const leafLv = fmt.levels.find((lv) => lv.level === leafLevel)!;
    const { toCreate, toFree } = this.plan(frames, v, l, large);

    // Take the frames the new tables need before writing any entry.
    const fresh: bigint[] = [];
    try {
      for (let i = 0; i < toCreate.size; i++) {
        const f = this.memory.allocFrame();
        fresh.push(f);
        if (this.mode === "32-bit" && f >= FOUR_GIB) {
          throw new MappingError("NO_FRAME", `no free frame below 4 GiB for the page tables of ${hex(v)}..${hex(v + l)} (32-bit entries hold 32-bit addresses)`);
        }
      }
    } catch (e) {
      for (const f of fresh) this.memory.freeFrame(f);
      throw e;
    }

    // Pass 2: write the entries (new tables in the order the allocator gave their frames).
    let next = 0;
    let i = 0n;
    for (let vi = v; vi < v + l; vi += step, i++) {
      let table = this.root;
      for (const lv of upper) {
        const ea = this.entryAddr(table, lv, vi);
        let e = frames.get(ea);
        if ((e & P) === 0n) {
          e = fresh[next++]! | (lv.level === 3 ? PDPTE_FLAGS : TABLE_FLAGS);
          frames.set(ea, e);
        }
        table = e & fmt.addrMask;
      }
      frames.set(this.entryAddr(table, leafLv, vi), this.leafEntry(p + i * bytes, large, flags));
    }
    frames.flush();
    // An empty page table given way to a large page: free it, and forget what
    // the paging-structure caches may hold of the PDE that referenced it.
    for (const t of toFree) this.memory.freeFrame(t);
    if (toFree.size > 0) this.core.x.flushTlb();
    // Otherwise no invalidation: the TLB never holds a translation for a page that was not present.
  }

  /**
   * Pass 1 of map: nothing may be mapped in [v, v + l) yet (a large page may
   * replace an empty table); counts the tables to create. Throws MappingError
   * (ALREADY_MAPPED, SPLITS_LARGE_PAGE) before anything changes.
   */
  private plan(frames: Frames, v: number, l: number, large: boolean): { toCreate: Set<string>; toFree: Set<bigint> } {
    const fmt = this.format;
    const leafLevel = large ? 2 : 1;
    const step = Number(LEGACY_PAGE_BYTES[large ? fmt.large : "4K"]);
    const upper = fmt.levels.filter((lv) => lv.level > leafLevel);
    const leafLv = fmt.levels.find((lv) => lv.level === leafLevel)!;
    // Pass 1: nothing may be mapped there yet; count the tables to create
    // (the table at level j that would hold v's entry is known by j and v >> shift_{j+1}).
    const toCreate = new Set<string>();
    const toFree = new Set<bigint>();
    for (let vi = v; vi < v + l; vi += step) {
      let table = this.root;
      let missing = false;
      for (const lv of upper) {
        if (!missing) {
          const e = frames.get(this.entryAddr(table, lv, vi));
          if ((e & P) !== 0n) {
            if (lv.level === 2 && (e & PS) !== 0n) throw this.refused("SPLITS_LARGE_PAGE", v, l, vi);
            table = e & fmt.addrMask;
            continue;
          }
          missing = true;
        }
        toCreate.add(`${lv.level - 1}:${Math.floor(vi / 2 ** lv.shift)}`);
      }
      if (missing) continue;
      const e = frames.get(this.entryAddr(table, leafLv, vi));
      if ((e & P) === 0n) continue;
      if (!large || (e & PS) !== 0n || !this.tableEmpty(frames, e & fmt.addrMask)) throw this.refused("ALREADY_MAPPED", v, l, vi);
      toFree.add(e & fmt.addrMask);
    }
    return { toCreate, toFree };
  }

  /** Maps `len` bytes from `va` to fresh zeroed frames from the allocator (4 KiB pages); returns their addresses. */
  mapFresh(va: Address, len: Address, flags: PteFlags | bigint = {}): bigint[] {
    const [v, l] = this.range(va, len, 0x1000n);
    // Everything a refusal depends on is checked before a frame is taken (the allocator and the dirty log stay as they were).
    this.leafFlags(flags);
    this.plan(new Frames(this.memory, this.format.entryBytes), v, l, false);
    const frames: bigint[] = [];
    let mapped = 0;
    try {
      for (let off = 0; off < l; off += PAGE_SIZE) {
        const f = this.memory.allocFrame();
        frames.push(f);
        this.map(v + off, f, 0x1000n, { flags });
        mapped += PAGE_SIZE;
      }
    } catch (e) {
      if (mapped > 0) this.unmap(v, mapped);
      for (const f of frames) this.memory.freeFrame(f);
      throw e;
    }
    return frames;
  }

  /**
   * Removes every mapping in [va, va + len) (4 KiB aligned, below 4 GiB; the
   * tables stay). Refuses with MappingError SPLITS_LARGE_PAGE, changing
   * nothing, if the range covers part of a 4 MiB or 2 MiB page.
   */
  unmap(va: Address, len: Address): void {
    const [v, l] = this.range(va, len, 0x1000n);
    this.change(v, l, () => 0n);
  }

  /**
   * Replaces R/W, U/S (and XD with PAE) of every mapping in [va, va + len),
   * as `unmap` refusing a range that splits a large page.
   */
  protect(va: Address, len: Address, flags: PteFlags | bigint): void {
    const [v, l] = this.range(va, len, 0x1000n);
    const bits = this.leafFlags(flags) & this.format.protectBits;
    this.change(v, l, (e) => (e & ~this.format.protectBits) | bits);
  }

  /** Rewrites each leaf in [v, v + l) with `update`, after checking that none reaches outside the range; invalidates the TLB. */
  private change(v: number, l: number, update: (entry: bigint) => bigint): void {
    if (l === 0) return;
    const fmt = this.format;
    const frames = new Frames(this.memory, fmt.entryBytes);
    const leaves: [number, bigint][] = [];
    const end = v + l;
    let vi = v;
    while (vi < end) {
      let table = this.root;
      for (const lv of fmt.levels) {
        const ea = this.entryAddr(table, lv, vi);
        const e = frames.get(ea);
        const span = 2 ** lv.shift;
        if ((e & P) === 0n) {
          vi = vi - (vi % span) + span;
          break;
        }
        if (lv.level === 1 || (lv.level === 2 && (e & PS) !== 0n)) {
          if (vi % span !== 0 || end - vi < span) throw this.refused("SPLITS_LARGE_PAGE", v, l, vi);
          leaves.push([ea, e]);
          vi += span;
          break;
        }
        table = e & fmt.addrMask;
      }
    }
    for (const [ea, e] of leaves) frames.set(ea, update(e));
    frames.flush();
    if (l > 64 * PAGE_SIZE) this.core.x.flushTlb();
    else for (let off = 0; off < l; off += PAGE_SIZE) this.core.x.invlpg(lo32(BigInt(v + off)), hi32(BigInt(v + off)));
  }

  /** True when the page table at `table` has no present entry. */
  private tableEmpty(frames: Frames, table: bigint): boolean {
    const n = this.format.levels[this.format.levels.length - 1]!.entries;
    for (let i = 0; i < n; i++) if ((frames.get(Number(table) + i * this.format.entryBytes) & P) !== 0n) return false;
    return true;
  }

  private refused(code: "ALREADY_MAPPED" | "SPLITS_LARGE_PAGE", v: number, l: number, at: number): MappingError {
    const range = `${hex(v)}..${hex(v + l)}`;
    return code === "ALREADY_MAPPED"
      ? new MappingError(code, `${hex(at)} is already mapped (mapping ${range}); unmap it first`)
      : new MappingError(code, `range ${range} covers part of a ${this.format.large === "4M" ? "4 MiB" : "2 MiB"} page at ${hex(at - (at % Number(LEGACY_PAGE_BYTES[this.format.large])))}; change whole large pages`);
  }
}

/**
 * The table format a walk would use for the registers `s`: the paging mode,
 * or, with CR0.PG=0, the mode that setting CR0.PG would select now (CR4.PAE,
 * EFER.LME, CR4.LA57), since paging off reads no table at all.
 */
export function tableFormatOf(s: { cr0: bigint; cr4: bigint; efer: bigint }): "32-bit" | "pae" | "4-level" | "5-level" {
  const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) !== 0n;
  if (!bit(s.cr4, CR4_PAE_BIT)) return "32-bit";
  // With CR0.PG=1, EFER.LMA is EFER.LME; with CR0.PG=0, LME says what PG=1 would give.
  if (!bit(s.efer, EFER_LME_BIT)) return "pae";
  return bit(s.cr4, CR4_LA57_BIT) ? "5-level" : "4-level";
}
