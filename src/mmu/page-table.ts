/**
 * Building page tables: a tree of 4- or 5-level paging structures in the
 * frame store, changed by map / unmap / protect over ranges the way a kernel
 * does it. The work runs in the core; each call checks its whole range before
 * it writes an entry, so a refused call changes nothing.
 *
 * Tables the builder creates have P, R/W and U/S set; the leaves decide the
 * rights. Changes invalidate the TLB for the range (as a kernel's INVLPG would).
 */

import {
  PTE_P_BIT, PTE_RW_BIT, PTE_US_BIT, PTE_PWT_BIT, PTE_PCD_BIT, PTE_A_BIT, PTE_D_BIT, PTE_G_BIT, PTE_XD_BIT, PTE_PK_SHIFT,
} from "../arch/index.js";
import { STATUS_OK, STATUS_ALREADY_MAPPED, STATUS_SPLITS_LARGE_PAGE, STATUS_NO_MEMORY, STATUS_NO_FRAME, MB_PA } from "../arch/index.js";
import { type Address, toU64, lo32, hi32, hex } from "../base/index.js";
import { ScratchBuffer, type Core } from "../core/index.js";
import { ArgumentError, MappingError, OutOfMemoryError, X86MmuError, show, showName, optionsOf } from "../base/index.js";
import type { PhysicalMemory } from "../phys/index.js";

/** Page sizes by name, and the level of their leaf entry. */
export type PageSize = "4K" | "2M" | "1G";
const LEVEL_OF: Record<PageSize, number> = { "4K": 1, "2M": 2, "1G": 3 };
export const PAGE_BYTES: Record<PageSize, bigint> = { "4K": 0x1000n, "2M": 0x200000n, "1G": 0x40000000n };

/** The rights and attributes of a leaf entry. P is always set. */
export interface PteFlags {
  /** R/W: writes allowed (default false). */
  writable?: boolean;
  /** U/S: user-mode accesses allowed (default false). */
  user?: boolean;
  /** XD: instruction fetches forbidden (needs EFER.NXE=1; default false). */
  noExecute?: boolean;
  /** G: survives CR3 loads in the TLB (with CR4.PGE=1). */
  global?: boolean;
  /** Protection key, 0..15 (bits 62:59). */
  pkey?: number;
  /** Pre-set A and D (default false: the walk sets them). */
  accessed?: boolean;
  dirty?: boolean;
  /** Cache attributes (no effect on translation). */
  writeThrough?: boolean;
  cacheDisable?: boolean;
}

const b = (n: number): bigint => 1n << BigInt(n);

/** The entry bits for `flags` (a PteFlags, or raw bits as a bigint). */
export function pteBits(flags: PteFlags | bigint): bigint {
  if (typeof flags === "bigint") {
    if (BigInt.asUintN(64, flags) !== flags) throw new ArgumentError(`entry bits ${show(flags)} are outside 0..2^64-1`);
    return flags | b(PTE_P_BIT);
  }
  if (typeof flags !== "object" || flags === null) throw new ArgumentError(`flags must be a PteFlags object or a bigint of entry bits, not ${show(flags)}`);
  const key = flags.pkey ?? 0;
  if (!Number.isInteger(key) || key < 0 || key > 15) throw new ArgumentError(`protection key ${show(key)} is not in 0..15`);
  let v = b(PTE_P_BIT);
  if (flags.writable) v |= b(PTE_RW_BIT);
  if (flags.user) v |= b(PTE_US_BIT);
  if (flags.writeThrough) v |= b(PTE_PWT_BIT);
  if (flags.cacheDisable) v |= b(PTE_PCD_BIT);
  if (flags.accessed) v |= b(PTE_A_BIT);
  if (flags.dirty) v |= b(PTE_D_BIT);
  if (flags.global) v |= b(PTE_G_BIT);
  if (flags.noExecute) v |= b(PTE_XD_BIT);
  return v | (BigInt(key) << BigInt(PTE_PK_SHIFT));
}

export interface PageTableOptions {
  /** 4 (default) or 5 (for CR4.LA57). */
  levels?: 4 | 5;
}

export interface MapOptions {
  /** Page size (default "4K"). */
  size?: PageSize;
  /** Leaf rights and attributes. */
  flags?: PteFlags | bigint;
}

const freshBuffers = new WeakMap<Core, ScratchBuffer>();
/** A core's buffer for the addresses mapFresh returns. */
function freshFramesBuffer(core: Core): ScratchBuffer {
  let b = freshBuffers.get(core);
  if (!b) freshBuffers.set(core, (b = new ScratchBuffer(core, "mapFresh's frame list")));
  return b;
}

export class PageTable {
  private constructor(
    private readonly core: Core,
    private readonly memory: PhysicalMemory,
    /** Physical address of the root table (what CR3 holds). */
    readonly root: bigint,
    readonly levels: 4 | 5,
  ) {}

  static create(core: Core, memory: PhysicalMemory, options: PageTableOptions): PageTable {
    const levels = options.levels ?? 4;
    if (levels !== 4 && levels !== 5) throw new ArgumentError(`levels ${show(levels)} is not 4 or 5`);
    return new PageTable(core, memory, memory.allocFrame(), levels);
  }

  static at(core: Core, memory: PhysicalMemory, root: bigint, levels: 4 | 5): PageTable {
    return new PageTable(core, memory, root, levels);
  }

  private canonical(va: bigint, what: string): void {
    const bits = this.levels === 5 ? 57 : 48;
    const top = va >> BigInt(bits - 1);
    if (top !== 0n && top !== (1n << BigInt(65 - bits)) - 1n) throw new ArgumentError(`${what} ${hex(va)} is not canonical for ${this.levels}-level paging`);
  }

  private range(va: Address, len: Address, align: bigint): [bigint, bigint] {
    const v = toU64(va, "linear address");
    const l = toU64(len, "length");
    if (v % align !== 0n || l % align !== 0n) throw new ArgumentError(`range ${hex(v)}+${hex(l)} is not aligned to ${hex(align)}`);
    if (l === 0n) return [v, l];
    if (v + l > 1n << 64n) throw new ArgumentError(`range ${hex(v)}+${hex(l)} wraps past 2^64`);
    this.canonical(v, "start");
    this.canonical(v + l - 1n, "end");
    // Both ends canonical but on either side of the hole: the range contains
    // non-canonical addresses (bits 63:47, or 63:56, are all 0 at one end and
    // all 1 at the other).
    if (v >> 63n !== (v + l - 1n) >> 63n) {
      throw new ArgumentError(`range ${hex(v)}+${hex(l)} crosses the non-canonical hole between the lower and the upper half`);
    }
    return [v, l];
  }

  /**
   * Maps `len` bytes of linear memory from `va` to physical memory from `pa`
   * with pages of `size` (both aligned to it). Refuses with MappingError
   * (ALREADY_MAPPED, SPLITS_LARGE_PAGE), changing nothing, when a page of the
   * range is mapped already or a large page is in the way.
   */
  map(va: Address, pa: Address, len: Address, options?: MapOptions): void {
    options = optionsOf(options, "map options");
    const size = options.size ?? "4K";
    const bytes = typeof size === "string" && Object.hasOwn(PAGE_BYTES, size) ? PAGE_BYTES[size] : undefined;
    if (bytes === undefined) throw new ArgumentError(`page size ${showName(size)} is not "4K", "2M" or "1G"`);
    const [v, l] = this.range(va, len, bytes);
    const p = toU64(pa, "physical address");
    if (p % bytes !== 0n) throw new ArgumentError(`physical address ${hex(p)} is not aligned to ${size}`);
    const limit = 1n << BigInt(this.memory.maxPhyAddr);
    if (p + l > limit) throw new ArgumentError(`physical range ${hex(p)}+${hex(l)} reaches past 2^${this.memory.maxPhyAddr}`);
    const pages = l / bytes;
    if (pages > 0xffffffffn) throw new ArgumentError(`${pages} pages is more than one call maps (2^32-1)`);
    if (pages === 0n) return;
    const flags = pteBits(options.flags ?? {});
    const s = this.core.x.mapRange(lo32(this.root), hi32(this.root), this.levels, lo32(v), hi32(v), lo32(p), hi32(p), Number(pages), LEVEL_OF[size], lo32(flags), hi32(flags));
    this.check(s, v, l);
  }

  /**
   * Maps `len` bytes from `va` to fresh zeroed frames from the allocator (4
   * KiB pages); returns their addresses. One operation in the core: the
   * range is checked and every frame (pages and new tables) taken before an
   * entry is written, so a refusal (ALREADY_MAPPED, SPLITS_LARGE_PAGE,
   * NO_FRAME, OutOfMemoryError) changes nothing: not the tables, the
   * allocator, the dirty log nor a snapshot's journal.
   */
  mapFresh(va: Address, len: Address, flags: PteFlags | bigint = {}): bigint[] {
    const [v, l] = this.range(va, len, 0x1000n);
    const pages = l / 0x1000n;
    if (pages === 0n) return [];
    const f = pteBits(flags);
    if (pages > 1n << 20n) throw new OutOfMemoryError(`${pages} fresh frames for ${hex(v)}+${hex(l)}: more than the frame store's 4 GiB`);
    const n = Number(pages);
    const out = freshFramesBuffer(this.core).reserve(n * 8);
    const s = this.core.x.mapFreshRange(lo32(this.root), hi32(this.root), this.levels, lo32(v), hi32(v), n, lo32(f), hi32(f), out);
    this.check(s, v, l);
    return Array.from(new BigUint64Array(this.core.x.memory.buffer, out, n));
  }

  /** Removes every mapping in [va, va + len) (tables stay). Refuses, changing nothing, if the range splits a large page. */
  unmap(va: Address, len: Address): void {
    const [v, l] = this.range(va, len, 0x1000n);
    if (l === 0n) return;
    const s = this.core.x.unmapRange(lo32(this.root), hi32(this.root), this.levels, lo32(v), hi32(v), lo32(l), hi32(l));
    this.check(s, v, l);
  }

  /** Replaces R/W, U/S, XD and the protection key of every mapping in [va, va + len). */
  protect(va: Address, len: Address, flags: PteFlags | bigint): void {
    const [v, l] = this.range(va, len, 0x1000n);
    if (l === 0n) return;
    const f = pteBits(flags);
    const s = this.core.x.protectRange(lo32(this.root), hi32(this.root), this.levels, lo32(v), hi32(v), lo32(l), hi32(l), lo32(f), hi32(f));
    this.check(s, v, l);
  }

  private check(status: number, v: bigint, l: bigint): void {
    const range = `${hex(v)}..${hex(v + l)}`;
    switch (status) {
      case STATUS_OK:
        return;
      case STATUS_ALREADY_MAPPED:
        throw new MappingError("ALREADY_MAPPED", `${hex(this.core.mbU64(MB_PA))} is already mapped (mapping ${range}); unmap it first`);
      case STATUS_SPLITS_LARGE_PAGE:
        throw new MappingError("SPLITS_LARGE_PAGE", `range ${range} covers part of a 2 MiB or 1 GiB page; change whole large pages`);
      case STATUS_NO_FRAME:
        throw new MappingError("NO_FRAME", `no free physical frame for the page tables of ${range}`);
      case STATUS_NO_MEMORY:
        throw new OutOfMemoryError(`page tables for ${range}`);
      default:
        throw new X86MmuError("INTERNAL", `x86mmu core returned unknown status ${status}`);
    }
  }
}
