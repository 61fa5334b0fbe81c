/**
 * `VmSpace`: one address space, after OSTD's `ostd/src/mm/vm_space.rs`. It
 * owns a root page table in the frame store, changes its mappings through a
 * cursor over a virtual range (`CursorMut`: map, unmap, protect, with 4 KiB,
 * 2 MiB and 1 GiB pages), is activated on its Mmu (CR3 <- root; one active
 * space per Mmu), and hands out readers and writers whose every copy its
 * `VmSpaceOwner` gates.
 *
 * Kinds:
 * - `"user"` (default): owns the lower half (top-level slots 0..255); I/O
 *   ranges must end at or below MAX_USERSPACE_VADDR (else AccessDenied, as in
 *   OSTD) and copies run at CPL 3, so pages need U/S=1. It may share the
 *   upper half of a kernel space (`kernel: kernelSpace`): the kernel's
 *   top-level entries are copied into its root, so every later kernel mapping
 *   shows through, as OSTD's user/kernel split does.
 * - `"kernel"`: owns the upper half (slots 256..511, pre-populated so sharing
 *   stays exact); copies run at CPL 0.
 *
 * Several spaces may also map the same frames (`map` with a physical
 * address); physical aliasing between their readers and writers is tracked
 * across every space of the Mmu unless `trackPhysicalAliasing: false`.
 */

import { CR0_PG_BIT, CR4_LA57_BIT } from "../arch/index.js";
import { type Address, toU64, hex } from "../base/index.js";
import { encodeAccess } from "../mmu/index.js";
import { ScratchBuffer, type Core } from "../core/index.js";
import { ArgumentError, OutOfMemoryError, RegisterError, show, showName, optionsOf, functionOf } from "../base/index.js";
import { VmReader, VmWriter } from "./io.js";
import type { Mapping, ViewPiece } from "./mem-view.js";
import { LONG_MODE, Mmu } from "../mmu/index.js";
import { coreOf } from "../mmu/index.js";
import { AccessDenied, OwnershipError, VmSpaceOwner, physRegistryFor, rangeText, type VRange } from "./owner.js";
import { PAGE_BYTES, PageTable, pteBits, type PageSize, type PteFlags } from "../mmu/index.js";
import { MAX_RANGE } from "../phys/index.js";
import { PROTECT_MASK, VIEW_FLAG_MASK, WalkedPageTableOwner } from "./page-table-owner.js";

/** OSTD MAX_USERSPACE_VADDR (x86-64, 4-level): user I/O ranges end at or below it. */
export const MAX_USERSPACE_VADDR = 0x0000_8000_0000_0000n - 0x1000n;

export interface VmSpaceOptions {
  /** "user" (default) or "kernel"; see the module doc. */
  kind?: "user" | "kernel";
  /** 4 (default) or 5 paging levels. */
  levels?: 4 | 5;
  /** For a user space: the kernel space whose upper half it shares. */
  kernel?: VmSpace;
  /** Readers may overlap each other (default true; vostd `shared_reader`). */
  sharedReader?: boolean;
  /** Use vostd's `<=` overlap test between tokens: back-to-back ranges overlap (default false). */
  strictOverlap?: boolean;
  /** Track physical aliasing of readers and writers (default true). Off: this space's tokens are neither checked nor registered. */
  trackPhysicalAliasing?: boolean;
  /** Run inv() and memViewWf() in full after every operation (default false; tests turn it on). */
  debug?: boolean;
}

export interface SpaceMapOptions {
  /** Page size (default "4K"). */
  size?: PageSize;
  /** Leaf flags (default: writable, and user for a user space). */
  flags?: PteFlags | bigint;
}

let spaceCounter = 0;
const activeSpaces = new WeakMap<Mmu, VmSpace>();
/** Every space of an Mmu: page-table frames and data frames are kept apart across all of them. */
const spacesOf = new WeakMap<Mmu, Set<VmSpace>>();
const avoidBuffers = new WeakMap<Core, ScratchBuffer>();

/** The rule a mapping of a page-table frame as data breaks (OSTD types page-table frames apart from untyped ones). */
export const PAGE_TABLE_FRAME_RULE = "x86mmu::page_table_frames_untouchable";

/**
 * Refuses (OwnershipError) to map physical [pa, end) as data when a frame in
 * it holds a page table of any space of `mmu`: a writer of that data could
 * rewrite the table, and then reach frames no token was given.
 */
function requireNoTableFrame(mmu: Mmu, pa: bigint, end: bigint): void {
  for (const space of spacesOf.get(mmu) ?? []) {
    for (const t of space.tableFrames()) {
      if (t >= pa && t < end) {
        throw new OwnershipError(
          PAGE_TABLE_FRAME_RULE,
          `physical ${hex(t)} holds a page table of ${space.label}: a page-table frame is never mapped as data (mapping ${hex(pa)}..${hex(end)} refused)`,
        );
      }
    }
  }
}

/**
 * Tells the frame allocator which frames the spaces of `mmu` map as data
 * (plus `extra`, a range about to be mapped), so that no page table is ever
 * allocated in one of them.
 */
function syncAvoided(mmu: Mmu, core: Core, extra?: { pa: bigint; end: bigint }): void {
  const ranges: [bigint, bigint][] = [];
  for (const space of spacesOf.get(mmu) ?? []) {
    for (const r of space.owner.mvRange?.physRanges() ?? []) ranges.push([r.pa >> 12n, (r.end + 0xfffn) >> 12n]);
  }
  if (extra) ranges.push([extra.pa >> 12n, (extra.end + 0xfffn) >> 12n]);
  ranges.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const merged: [bigint, bigint][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1]) last[1] = r[1] > last[1] ? r[1] : last[1];
    else merged.push([...r]);
  }
  let buf = avoidBuffers.get(core);
  if (!buf) avoidBuffers.set(core, (buf = new ScratchBuffer(core, "the frames mapped as data")));
  const ptr = buf.reserve(Math.max(merged.length, 1) * 16);
  const words = new BigUint64Array(core.x.memory.buffer, ptr, merged.length * 2);
  merged.forEach(([a, b], i) => ((words[2 * i] = a), (words[2 * i + 1] = b)));
  if (!core.x.allocAvoid(ptr, merged.length)) throw new OutOfMemoryError("the list of frames mapped as data");
}

export class VmSpace {
  readonly owner: VmSpaceOwner;
  readonly pageTable: PageTable;
  readonly kind: "user" | "kernel";
  readonly levels: 4 | 5;
  /** The virtual range the space's page table owns (its top-level slots). */
  readonly domain: VRange;
  /** The access codes its copies use (CPL 3 for a user space, 0 for a kernel space). */
  readonly readAccess: number;
  readonly writeAccess: number;
  /** @internal */
  readonly core: Core;
  readonly label: string;

  private constructor(
    readonly mmu: Mmu,
    options: VmSpaceOptions,
  ) {
    this.kind = options.kind ?? "user";
    if (this.kind !== "user" && this.kind !== "kernel") throw new ArgumentError(`space kind ${showName(this.kind)} is not "user" or "kernel"`);
    this.levels = options.levels ?? 4;
    this.core = coreOf(mmu);
    this.label = `${this.kind} space ${++spaceCounter}`;
    const kernel = options.kernel;
    if (kernel) {
      if (this.kind !== "user") throw new ArgumentError("only a user space shares a kernel space's upper half");
      if (kernel.kind !== "kernel" || kernel.mmu !== mmu || kernel.levels !== this.levels) throw new ArgumentError(`${kernel.label} is not a kernel space of the same Mmu with ${this.levels} levels`);
    }
    const top = BigInt(this.levels === 5 ? 56 : 47);
    const half = 1n << top;
    this.domain = this.kind === "user" ? { start: 0n, end: half } : { start: (1n << 64n) - half, end: 1n << 64n };
    const slots: [number, number] = this.kind === "user" ? [0, 256] : [256, 512];
    const cpl = this.kind === "user" ? 3 : 0;
    this.readAccess = encodeAccess({ op: "read", cpl });
    this.writeAccess = encodeAccess({ op: "write", cpl });

    this.pageTable = mmu.createPageTable({ levels: this.levels });
    const root = this.pageTable.root;
    if (this.kind === "kernel") {
      // Pre-populate the upper half so user spaces that copy these entries see every later kernel mapping.
      for (let i = 256; i < 512; i++) mmu.memory.write(root + BigInt(8 * i), 8, mmu.memory.allocFrame() | 0x7n);
    } else if (kernel) {
      const kr = kernel.pageTable.root;
      for (let i = 256; i < 512; i++) mmu.memory.write(root + BigInt(8 * i), 8, mmu.memory.read(kr + BigInt(8 * i), 8) & ~0x20n);
    }
    const pto = new WalkedPageTableOwner(mmu.memory, root, this.levels, slots, kernel ? { root: kernel.pageTable.root, slots: [256, 512] } : undefined);
    this.pto = pto;
    this.owner = new VmSpaceOwner({
      sharedReader: options.sharedReader ?? true,
      strictOverlap: options.strictOverlap ?? false,
      debug: options.debug ?? false,
      phys: options.trackPhysicalAliasing === false ? undefined : physRegistryFor(mmu),
      pageTableOwner: pto,
      isLoaded: () => activeSpaces.get(mmu) === this && (mmu.cr3 & 0x000ffffffffff000n) === root,
      label: this.label,
    });
    let spaces = spacesOf.get(mmu);
    if (!spaces) spacesOf.set(mmu, (spaces = new Set()));
    spaces.add(this);
  }

  private readonly pto: WalkedPageTableOwner;

  /** The physical addresses of this space's page tables (its root and every table under its half). */
  tableFrames(): bigint[] {
    return this.pto.tables();
  }

  /** @internal Runs a page-table change that maps physical [pa, end) as data: refused over a page-table frame; the allocator avoids the range meanwhile. */
  mappingData<T>(pa: bigint, end: bigint, change: () => T): T {
    requireNoTableFrame(this.mmu, pa, end);
    syncAvoided(this.mmu, this.core, { pa, end });
    try {
      return change();
    } catch (e) {
      syncAvoided(this.mmu, this.core);
      throw e;
    }
  }

  /** @internal After a change of mappings: the allocator avoids exactly the frames mapped as data. */
  syncDataFrames(): void {
    syncAvoided(this.mmu, this.core);
  }

  /** A new, empty address space of `mmu` (OSTD `VmSpace::new`). */
  static create(mmu: Mmu, options?: VmSpaceOptions): VmSpace {
    if (!(mmu instanceof Mmu)) throw new ArgumentError(`VmSpace.create needs an Mmu, not ${show(mmu)}`);
    return new VmSpace(mmu, optionsOf(options, "space options"));
  }

  /** The space active on `mmu`, if any. */
  static activeOn(mmu: Mmu): VmSpace | undefined {
    return activeSpaces.get(mmu);
  }

  /** The physical address of the root table. */
  get root(): bigint {
    return this.pageTable.root;
  }

  /** Whether this space is the active one of its Mmu and CR3 still holds its root. */
  get isActive(): boolean {
    return this.owner.isActive();
  }

  /**
   * OSTD `activate`: loads the root into CR3 (a MOV to CR3) and makes this
   * the active space of `mmu`; the previous one becomes inactive (its tokens
   * keep their views but cannot copy until it is activated again). With
   * paging off, turns on long mode (LONG_MODE, plus LA57 for 5 levels).
   * Throws ArgumentError for another Mmu or a paging depth that does not
   * match CR4.LA57.
   */
  activate(mmu: Mmu = this.mmu): void {
    if (mmu !== this.mmu) throw new ArgumentError(`${this.label} lives in another Mmu's memory`);
    const st = mmu.state;
    const pagingOn = ((st.cr0 >> BigInt(CR0_PG_BIT)) & 1n) === 1n;
    const la57 = 1n << BigInt(CR4_LA57_BIT);
    if (!pagingOn) {
      mmu.loadState({ ...st, cr0: st.cr0 | LONG_MODE.cr0, cr4: st.cr4 | LONG_MODE.cr4 | (this.levels === 5 ? la57 : 0n), efer: st.efer | LONG_MODE.efer, cr3: this.root });
    } else {
      // OSTD's page tables (and vostd's model) are x86-64's 4- and 5-level ones: under 32-bit or PAE paging
      // CR3 would point a legacy walk at them. Refused, with nothing changed.
      const mode = mmu.pagingMode;
      if (mode !== "4-level" && mode !== "5-level") {
        throw new RegisterError(`${this.label} is a long-mode address space (${this.levels}-level tables); the Mmu runs ${mode} paging: turn paging off (CR0.PG=0) or load a long-mode state before activating it`, "UNSUPPORTED_MODE");
      }
      if (((st.cr4 & la57) !== 0n) !== (this.levels === 5)) throw new ArgumentError(`${this.label} has ${this.levels} levels but CR4.LA57 is ${(st.cr4 & la57) !== 0n ? 1 : 0}`);
      mmu.cr3 = this.root;
    }
    const prev = activeSpaces.get(mmu);
    activeSpaces.set(mmu, this);
    if (prev && prev !== this) {
      prev.owner.active = false;
      prev.owner.afterOp();
    }
    this.owner.active = true;
    this.owner.afterOp();
  }

  // ---- Page-table changes ----

  /**
   * OSTD `cursor_mut`: a cursor over [va, va + len) (page aligned, inside the
   * space's domain) for map / unmap / protect. Throws AccessDenied otherwise.
   */
  cursorMut(va: Address, len: Address): CursorMut {
    const a = toU64(va);
    const l = toU64(len, "length");
    const b = a + l;
    if (a % 0x1000n !== 0n || l % 0x1000n !== 0n || l === 0n) throw new AccessDenied(`cursor range ${hex(a)}+${hex(l)} is empty or not 4 KiB aligned`);
    if (a < this.domain.start || b > this.domain.end) throw new AccessDenied(`cursor range ${rangeText({ start: a, end: b })} leaves ${this.label}'s half ${rangeText(this.domain)}`);
    return new CursorMut(this, a, b);
  }

  /** Maps [va, va + len) to physical memory from `pa` (a cursor's mapRange). */
  map(va: Address, pa: Address, len: Address, options: SpaceMapOptions = {}): void {
    this.cursorMut(va, len).mapRange(pa, len, options);
  }

  /** Maps [va, va + len) to fresh zeroed 4 KiB frames; returns them. */
  mapFresh(va: Address, len: Address, flags?: PteFlags | bigint): bigint[] {
    return this.cursorMut(va, len).mapFresh(len, flags);
  }

  /** Unmaps [va, va + len). */
  unmap(va: Address, len: Address): void {
    this.cursorMut(va, len).unmap(len);
  }

  /** Replaces R/W, U/S, XD and the protection key over [va, va + len). */
  protect(va: Address, len: Address, flags: PteFlags | bigint): void {
    this.cursorMut(va, len).protect(len, flags);
  }

  /** The page mapping at `va` (from the total view), or undefined. */
  query(va: Address): Mapping | undefined {
    return this.owner.mvRange!.mappingAt(toU64(va));
  }

  /** @internal Default leaf flags. */
  defaultFlags(): PteFlags {
    return this.kind === "user" ? { writable: true, user: true } : { writable: true };
  }

  // ---- Readers and writers ----

  private ioRange(va: Address, len: Address): VRange {
    const start = toU64(va);
    const l = toU64(len, "length");
    if (l > BigInt(MAX_RANGE)) throw new ArgumentError(`length ${hex(l)} is above 2^32-1`);
    const end = start + l;
    if (end > 1n << 64n) throw new AccessDenied(`range ${hex(start)}+${hex(l)} wraps past 2^64`);
    if (this.kind === "user" && end > MAX_USERSPACE_VADDR) throw new AccessDenied(`range ${rangeText({ start, end })} reaches past MAX_USERSPACE_VADDR ${hex(MAX_USERSPACE_VADDR)}`);
    if (this.kind === "kernel" && start < this.domain.start) throw new AccessDenied(`range ${rangeText({ start, end })} is outside the kernel half`);
    if (!this.isActive) throw new AccessDenied(`${this.label} is not active: activate it before creating readers or writers`);
    return { start, end };
  }

  /**
   * OSTD `VmSpace::reader` under vostd's owner: registers a reader token
   * over [va, va + len), not yet activated. Throws AccessDenied (inactive
   * space, range outside user space) or OwnershipError (a writer overlaps it;
   * a reader overlaps it with sharedReader off).
   */
  createReader(va: Address, len: Address): VmReader {
    return new VmReader(this, this.owner.createReader(this.ioRange(va, len)));
  }

  /** As createReader, for a writer (no reader or writer may overlap it). */
  createWriter(va: Address, len: Address): VmWriter {
    return new VmWriter(this, this.owner.createWriter(this.ioRange(va, len)));
  }

  /** Creates and activates a reader in one call; if activation is refused, the token is removed again (nothing changed). */
  reader(va: Address, len: Address): VmReader {
    const r = this.createReader(va, len);
    try {
      return r.activate();
    } catch (e) {
      r.close();
      throw e;
    }
  }

  /** Creates and activates a writer in one call; if activation is refused, the token is removed again. */
  writer(va: Address, len: Address): VmWriter {
    const w = this.createWriter(va, len);
    try {
      return w.activate();
    } catch (e) {
      w.close();
      throw e;
    }
  }

  /** Runs `fn` with an activated reader and always closes it (also when `fn` throws or its promise rejects). */
  withReader<T>(va: Address, len: Address, fn: (r: VmReader) => T): T {
    functionOf(fn, "withReader's function");
    return scoped(this.reader(va, len), fn);
  }

  /** Runs `fn` with an activated writer and always closes it. */
  withWriter<T>(va: Address, len: Address, fn: (w: VmWriter) => T): T {
    functionOf(fn, "withWriter's function");
    return scoped(this.writer(va, len), fn);
  }

  toString(): string {
    return `${this.label} (root ${hex(this.root)})`;
  }
}

function scoped<H extends { close(): void }, T>(h: H, fn: (h: H) => T): T {
  let result: T;
  try {
    result = fn(h);
  } catch (e) {
    h.close();
    throw e;
  }
  if (result && typeof (result as { then?: unknown }).then === "function") {
    return (result as unknown as Promise<unknown>).finally(() => h.close()) as T;
  }
  h.close();
  return result;
}

/**
 * OSTD `CursorMut`: changes the mappings of [start, end) of one space. Each
 * change requires that no activated reader or writer holds a byte of the
 * range it touches (OwnershipError "VmSpaceOwner::mem_view_wf" otherwise),
 * and is refused as a whole (MappingError) when the page table refuses it;
 * a refused change changes nothing.
 */
export class CursorMut {
  private va: bigint;

  /** @internal */
  constructor(
    readonly space: VmSpace,
    readonly start: bigint,
    readonly end: bigint,
  ) {
    this.va = start;
  }

  /** The current virtual address. */
  get virtAddr(): bigint {
    return this.va;
  }

  /** OSTD `jump`: moves to `va` (4 KiB aligned, inside the cursor's range), else ArgumentError. */
  jump(va: Address): void {
    const v = toU64(va);
    if (v % 0x1000n !== 0n || v < this.start || v >= this.end) throw new ArgumentError(`jump(${hex(v)}) is not an aligned address in ${rangeText(this)}`);
    this.va = v;
  }

  /** OSTD `query`: the mapping at the cursor (from the total view), or undefined. */
  query(): Mapping | undefined {
    return this.space.owner.mvRange!.mappingAt(this.va);
  }

  private take(len: Address, align: bigint, op: string): [bigint, bigint] {
    const l = toU64(len, "length");
    const a = this.va;
    if (a % align !== 0n || l % align !== 0n) throw new ArgumentError(`${op} ${hex(a)}+${hex(l)} is not aligned to ${hex(align)}`);
    if (a + l > this.end) throw new ArgumentError(`${op} ${hex(a)}+${hex(l)} goes past the cursor's end ${hex(this.end)}`);
    this.space.owner.requireUnheld(a, a + l, op);
    return [a, a + l];
  }

  private flagsOf(flags: PteFlags | bigint | undefined): bigint {
    return pteBits(flags ?? this.space.defaultFlags());
  }

  /** OSTD `map`: maps one page of `size` at the cursor to `pa` and moves past it. */
  map(pa: Address, options?: SpaceMapOptions): void {
    options = optionsOf(options, "map options");
    const size = options.size ?? "4K";
    if (!Object.hasOwn(PAGE_BYTES, size)) throw new ArgumentError(`page size ${showName(size)} is not "4K", "2M" or "1G"`);
    this.mapRange(pa, PAGE_BYTES[size], options);
  }

  /** Maps `len` bytes from the cursor to physical memory from `pa` (pages of one size) and moves past them. */
  mapRange(pa: Address, len: Address, options?: SpaceMapOptions): void {
    options = optionsOf(options, "map options");
    const size = options.size ?? "4K";
    const bytes = typeof size === "string" && Object.hasOwn(PAGE_BYTES, size) ? PAGE_BYTES[size] : undefined;
    if (bytes === undefined) throw new ArgumentError(`page size ${showName(size)} is not "4K", "2M" or "1G"`);
    const [a, b] = this.take(len, bytes, "map");
    const flags = this.flagsOf(options.flags);
    const p = toU64(pa, "physical address");
    this.space.mappingData(p, p + (b - a), () => this.space.pageTable.map(a, p, b - a, { size, flags }));
    const piece: ViewPiece = { start: a, end: b, pa: p, pageSize: bytes, flags: flags & VIEW_FLAG_MASK };
    this.space.owner.applyChange(a, b, [piece]);
    this.va = b;
  }

  /** Maps `len` bytes from the cursor to fresh zeroed 4 KiB frames; returns the frames. */
  mapFresh(len: Address, flags?: PteFlags | bigint): bigint[] {
    const [a, b] = this.take(len, 0x1000n, "map");
    const f = this.flagsOf(flags);
    const frames = this.space.pageTable.mapFresh(a, b - a, f);
    const pieces = frames.map((pa, i) => ({ start: a + BigInt(i) * 0x1000n, end: a + BigInt(i + 1) * 0x1000n, pa, pageSize: 0x1000n, flags: f & VIEW_FLAG_MASK }));
    this.space.owner.applyChange(a, b, pieces);
    this.space.syncDataFrames();
    this.va = b;
    return frames;
  }

  /** OSTD `unmap(len)`: removes every mapping in [cursor, cursor + len) and moves past it. Frames are not freed. */
  unmap(len: Address): void {
    const [a, b] = this.take(len, 0x1000n, "unmap");
    this.space.pageTable.unmap(a, b - a);
    this.space.owner.applyChange(a, b, []);
    this.space.syncDataFrames();
    this.va = b;
  }

  /** OSTD `protect_next` over `len` bytes: replaces R/W, U/S, XD and the protection key, and moves past the range. */
  protect(len: Address, flags: PteFlags | bigint): void {
    const [a, b] = this.take(len, 0x1000n, "protect");
    const f = pteBits(flags);
    this.space.pageTable.protect(a, b - a, f);
    this.space.owner.applyFlags(a, b, (old) => (old & ~PROTECT_MASK) | (f & PROTECT_MASK));
    this.va = b;
  }
}
