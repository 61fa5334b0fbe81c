/**
 * The book-keeping of owner-guarded memory I/O, after vostd's `VmSpaceOwner`
 * and `VmIoOwner` (`ostd/specs/mm/vm_space.rs`, `ostd/specs/mm/io.rs`).
 *
 * vostd proves these rules at compile time; here they are checked at run
 * time. Every method states what must hold before (vostd's `requires`: a
 * broken one throws `OwnershipError` naming the spec, the tokens and the
 * ranges, and changes nothing) and what holds after (`ensures`).
 *
 * Lifecycle of a reader or writer token (see docs/owner-guarded-io.md):
 *
 *     create ──> registered (no view) ──activate──> holds a view ──dispose──> registered (no view)
 *                      │                                 │
 *                      └──────────────remove─────────────┴──> removed (every later use throws)
 *
 * Cost: create, activate, dispose and remove are O(log n) in the number of
 * tokens (interval indexes over the registered readers and writers), plus
 * O(k log n) for the k physical pieces of the token's range when physical
 * aliasing is tracked, plus a writer's
 * activate/dispose splitting and joining the remaining view (piece-rope.ts:
 * the touched chunk and group, and a top index of n / 2048 entries). The
 * page-table-change check finds activated tokens through the same two
 * indexes: O(log n) plus the registered but not activated tokens over the
 * changed range (a separate index of activated ranges cost every copy two
 * more inserts and removes). The per-copy gate is O(1).
 * In debug mode `inv()` and `memViewWf()` run in full (O(n^2)) after each.
 */

import { hex, show } from "../base/index.js";
import { X86MmuError, ArgumentError } from "../base/index.js";
import { IntervalIndex } from "./interval-index.js";
import { MemView, type ViewPiece } from "./mem-view.js";

/** A precondition (a vostd `requires`) of owner-guarded I/O was broken; nothing was changed. */
export class OwnershipError extends X86MmuError {
  constructor(
    /** The vostd spec whose precondition or invariant this enforces, e.g. "VmSpaceOwner::can_create_writer". */
    readonly rule: string,
    message: string,
    /** The ids of the tokens involved: the one operated on first. */
    readonly tokens: readonly number[] = [],
  ) {
    super("OWNERSHIP", `${rule}: ${message}`);
  }
}

/**
 * OSTD's `Error::AccessDenied`: a reader, writer or cursor over a range the
 * space does not allow (outside user space for a user space), or a reader or
 * writer asked of a space that is not active.
 */
export class AccessDenied extends X86MmuError {
  constructor(message: string) {
    super("ACCESS_DENIED", message);
  }
}

export type VmIoKind = "reader" | "writer";

/** vostd `VmIoMemView`: a reader's borrowed view or a writer's owned view. */
export type VmIoMemView = { readonly kind: "ReadView"; readonly view: MemView } | { readonly kind: "WriteView"; readonly view: MemView };

/** A half-open byte range [start, end). */
export interface VRange {
  readonly start: bigint;
  readonly end: bigint;
}

export function rangeText(r: VRange): string {
  return `[${hex(r.start)}..${hex(r.end)})`;
}

let nextVmIoId = 1;

/** vostd `VmIoOwner`: the permission token of one reader or writer. */
export class VmIoOwner {
  /** The view the token holds: none until activated and after dispose. */
  memView: VmIoMemView | undefined = undefined;
  /** False once removed: every later use throws. */
  registered = true;
  /** Keys of the physical ranges registered for aliasing checks while activated. */
  physKeys: number[] = [];

  /** @internal Created by VmSpaceOwner.create{Reader,Writer}. */
  constructor(
    /** Unique, never reused (vostd `new_vm_io_id`). */
    readonly id: number,
    /** The virtual byte range the token covers. */
    readonly range: VRange,
    readonly kind: VmIoKind,
    /** The space owner that registered the token. */
    readonly owner: VmSpaceOwner,
  ) {}

  hasReadView(): boolean {
    return this.memView?.kind === "ReadView";
  }

  hasWriteView(): boolean {
    return this.memView?.kind === "WriteView";
  }

  get activated(): boolean {
    return this.memView !== undefined;
  }

  /** vostd `VmIoOwner::inv`: start <= end, and a view, when present, translates every byte of the range. */
  inv(): boolean {
    if (this.range.start > this.range.end) return false;
    if (!this.memView) return true;
    const v = this.memView.view;
    return v.wellFormed() && v.covers(this.range.start, this.range.end);
  }

  /** vostd `overlaps_with_range`, half-open or (closed) with vostd's `<=`. */
  overlapsWithRange(r: VRange, closed: boolean): boolean {
    if (closed) return this.range.start <= r.end && r.start <= this.range.end;
    return this.range.start < this.range.end && r.start < r.end && this.range.start < r.end && r.start < this.range.end;
  }

  toString(): string {
    return `${this.kind} #${this.id} ${rangeText(this.range)}`;
  }
}

/**
 * Who holds which physical bytes, across every space of one Mmu: the ranges
 * of activated writers and readers. "Beyond vostd": a writer's frames may not
 * be reachable through any other activated reader or writer, whatever the
 * virtual address.
 */
export class PhysRegistry {
  readonly readers = new IntervalIndex<VmIoOwner>();
  readonly writers = new IntervalIndex<VmIoOwner>();
  private next = 1;

  /** A token (other than `tok`) that an activation of `tok` over `ranges` would alias, or undefined. O(k log n). */
  conflict(tok: VmIoOwner, ranges: { pa: bigint; end: bigint }[]): { holder: VmIoOwner; pa: bigint } | undefined {
    const other = (v: VmIoOwner): boolean => v !== tok;
    for (const r of ranges) {
      const w = this.writers.findOverlap(r.pa, r.end, other);
      if (w) return { holder: w, pa: r.pa };
      if (tok.kind === "writer") {
        const rd = this.readers.findOverlap(r.pa, r.end, other);
        if (rd) return { holder: rd, pa: r.pa };
      }
    }
    return undefined;
  }

  add(tok: VmIoOwner, ranges: { pa: bigint; end: bigint }[]): number[] {
    const idx = tok.kind === "writer" ? this.writers : this.readers;
    return ranges.map((r) => {
      const k = this.next++;
      idx.insert(k, r.pa, r.end, tok);
      return k;
    });
  }

  remove(tok: VmIoOwner): void {
    const idx = tok.kind === "writer" ? this.writers : this.readers;
    for (const k of tok.physKeys) idx.remove(k);
    tok.physKeys = [];
  }

  /** Full check: no activated writer's physical bytes are reachable through another activated token. O(n^2). */
  violations(): string[] {
    const out: string[] = [];
    const ws = this.writers.entries();
    const all = [...ws, ...this.readers.entries()];
    for (const w of ws) {
      for (const o of all) {
        if (o.value === w.value || o.key === w.key) continue;
        if (w.start < o.end && o.start < w.end) out.push(`${w.value} and ${o.value} both reach physical ${hex(w.start > o.start ? w.start : o.start)}`);
      }
    }
    return out;
  }
}

const registries = new WeakMap<object, PhysRegistry>();

/** The physical registry shared by every space of `mmu`. */
export function physRegistryFor(mmu: object): PhysRegistry {
  let r = registries.get(mmu);
  if (!r) registries.set(mmu, (r = new PhysRegistry()));
  return r;
}

/** vostd `page_table_owner`: the page table in memory, as a view of its mappings. */
export interface PageTableOwner {
  /** The physical address of the root table. */
  readonly root: bigint;
  /** The mappings the page table in memory holds over the space's domain (a walk). */
  walk(): MemView;
  /** The page table is a well-formed tree (and shares what it should); reasons when not. */
  violations(): string[];
}

export interface VmSpaceOwnerOptions {
  sharedReader: boolean;
  strictOverlap: boolean;
  debug: boolean;
  /** Undefined: physical aliasing is not tracked for this space. */
  phys: PhysRegistry | undefined;
  pageTableOwner: PageTableOwner;
  /** Whether CR3 still points at this space's root (the space is loaded on its Mmu). */
  isLoaded: () => boolean;
  /** A label for messages ("space 2"). */
  label: string;
}

/** vostd `VmSpaceOwner`: the book-keeper of one VmSpace. */
export class VmSpaceOwner {
  /** The space is activated on its Mmu (maintained by VmSpace.activate). */
  active = false;
  /** The remaining view: the mappings the space still holds itself (writers' mappings left it). */
  memView: MemView | undefined = MemView.EMPTY;
  /** The total view: every mapping of the space's page table. */
  mvRange: MemView | undefined = MemView.EMPTY;
  /** Whether readers may overlap each other (vostd: `!shared_reader ==> readers pairwise disjoint`). */
  readonly sharedReader: boolean;
  /** Use vostd's `<=` overlap test between tokens (back-to-back ranges overlap). */
  readonly strictOverlap: boolean;
  /** Run inv() and memViewWf() in full after every operation. */
  debug: boolean;
  readonly pageTableOwner: PageTableOwner;
  readonly label: string;

  private readonly readerMap = new Map<number, VmIoOwner>();
  private readonly writerMap = new Map<number, VmIoOwner>();
  private readonly readerIdx: IntervalIndex<VmIoOwner>;
  private readonly writerIdx: IntervalIndex<VmIoOwner>;
  private readonly phys: PhysRegistry | undefined;
  private readonly isLoaded: () => boolean;

  /** @internal Created by VmSpace. */
  constructor(o: VmSpaceOwnerOptions) {
    this.sharedReader = o.sharedReader;
    this.strictOverlap = o.strictOverlap;
    this.debug = o.debug;
    this.phys = o.phys;
    this.pageTableOwner = o.pageTableOwner;
    this.isLoaded = o.isLoaded;
    this.label = o.label;
    this.readerIdx = new IntervalIndex(o.strictOverlap);
    this.writerIdx = new IntervalIndex(o.strictOverlap);
  }

  /** Registered readers (created, not removed), by id. */
  get readers(): VmIoOwner[] {
    return [...this.readerMap.values()];
  }

  /** Registered writers (created, not removed), by id. */
  get writers(): VmIoOwner[] {
    return [...this.writerMap.values()];
  }

  /** Whether physical aliasing is tracked for this space. */
  get tracksAliasing(): boolean {
    return this.phys !== undefined;
  }

  // ---- Creation ----

  /** vostd `new_vm_io_id`: a fresh id, never reused (unique across every space). */
  newVmIoId(): number {
    return nextVmIoId++;
  }

  /**
   * The one validation of a token's range, shared by the space-level and the
   * owner-level creators and by canCreate*: integers with 0 <= start <= end
   * <= 2^64 (a range that wraps past 2^64 is refused). ArgumentError otherwise.
   */
  static checkRange(range: VRange, what = "range"): VRange {
    const ok = (v: unknown): v is bigint => typeof v === "bigint" && v >= 0n && v <= 1n << 64n;
    if (typeof range !== "object" || range === null || !ok(range.start) || !ok(range.end)) {
      throw new ArgumentError(`${what} must be { start, end } with bigints in 0..2^64`);
    }
    if (range.start > range.end) throw new ArgumentError(`${what} ${hex(range.start)}..${hex(range.end)} ends before it starts`);
    return range;
  }

  /** [va, va + len) from bigints or safe integers, validated as checkRange does. */
  static rangeOf(va: bigint | number, len: bigint | number): VRange {
    const big = (v: bigint | number, what: string): bigint => {
      if (typeof v === "bigint") return v;
      if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
      throw new ArgumentError(`${what} ${show(v)} is not a bigint or a non-negative safe integer`);
    };
    const start = big(va, "address");
    const end = start + big(len, "length");
    if (end > 1n << 64n) throw new ArgumentError(`range ${hex(start)}+${hex(end - start)} wraps past 2^64`);
    return VmSpaceOwner.checkRange({ start, end });
  }

  /** vostd `can_create_reader`: no registered writer overlaps [va, va + len). O(log n). ArgumentError for a range that is not one. */
  canCreateReader(va: bigint | number, len: bigint | number): boolean {
    const r = VmSpaceOwner.rangeOf(va, len);
    return this.writerIdx.findOverlap(r.start, r.end) === undefined;
  }

  /** vostd `can_create_writer`: no registered reader and no registered writer overlaps [va, va + len). O(log n). */
  canCreateWriter(va: bigint | number, len: bigint | number): boolean {
    const r = VmSpaceOwner.rangeOf(va, len);
    return this.readerIdx.findOverlap(r.start, r.end) === undefined && this.writerIdx.findOverlap(r.start, r.end) === undefined;
  }

  private conflictText(kind: VmIoKind, r: VRange, other: VmIoOwner): string {
    return `${kind} ${rangeText(r)} overlaps ${other}${this.strictOverlap ? " (strictOverlap: vostd's <= test)" : ""}`;
  }

  /**
   * Registers a new reader token over `range`, with no view.
   * Requires `canCreateReader(range)`, and, unless `sharedReader`, that no
   * registered reader overlaps it (the `inv` clause). Ensures the token is in
   * `readers`.
   */
  createReader(range: VRange): VmIoOwner {
    range = VmSpaceOwner.checkRange(range);
    if (!this.active) throw new AccessDenied(`${this.label} is not active: activate it before creating readers or writers`);
    const w = this.writerIdx.findOverlap(range.start, range.end);
    if (w) throw new OwnershipError("VmSpaceOwner::can_create_reader", `a new ${this.conflictText("reader", range, w)}`, [w.id]);
    if (!this.sharedReader) {
      const r = this.readerIdx.findOverlap(range.start, range.end);
      if (r) throw new OwnershipError("VmSpaceOwner::inv", `sharedReader is off: a new ${this.conflictText("reader", range, r)}; readers must be disjoint`, [r.id]);
    }
    const tok = new VmIoOwner(this.newVmIoId(), { start: range.start, end: range.end }, "reader", this);
    this.readerIdx.insert(tok.id, range.start, range.end, tok);
    this.readerMap.set(tok.id, tok);
    this.afterOp();
    return tok;
  }

  /**
   * Registers a new writer token over `range`, with no view.
   * Requires `canCreateWriter(range)`. Ensures the token is in `writers`.
   */
  createWriter(range: VRange): VmIoOwner {
    range = VmSpaceOwner.checkRange(range);
    if (!this.active) throw new AccessDenied(`${this.label} is not active: activate it before creating readers or writers`);
    const o = this.writerIdx.findOverlap(range.start, range.end) ?? this.readerIdx.findOverlap(range.start, range.end);
    if (o) throw new OwnershipError("VmSpaceOwner::can_create_writer", `a new ${this.conflictText("writer", range, o)}`, [o.id]);
    const tok = new VmIoOwner(this.newVmIoId(), { start: range.start, end: range.end }, "writer", this);
    this.writerIdx.insert(tok.id, range.start, range.end, tok);
    this.writerMap.set(tok.id, tok);
    this.afterOp();
    return tok;
  }

  // ---- Activation ----

  private requireToken(tok: VmIoOwner, kind: VmIoKind, rule: string): void {
    if (!(tok instanceof VmIoOwner)) throw new ArgumentError(`${rule} takes a VmIoOwner token, not ${show(tok)}`);
    if (tok.kind !== kind) throw new OwnershipError(rule, `${tok} is a ${tok.kind}, not a ${kind}`, [tok.id]);
    if (tok.owner !== this) throw new OwnershipError(rule, `${tok} belongs to ${tok.owner.label}, not ${this.label}`, [tok.id]);
    if (!tok.registered) throw new OwnershipError(rule, `${tok} was removed; create a new one`, [tok.id]);
  }

  /** Whether the space is active and CR3 still holds its root. */
  isActive(): boolean {
    return this.active && this.isLoaded();
  }

  private requireActive(rule: string, tok: VmIoOwner): void {
    if (!this.active) throw new OwnershipError(rule, `${this.label} is not active (activate it first) for ${tok}`, [tok.id]);
    if (!this.isLoaded()) throw new OwnershipError(rule, `CR3 no longer holds the root of ${this.label} for ${tok}; activate it again`, [tok.id]);
  }

  private requireActivatable(tok: VmIoOwner, kind: VmIoKind, rule: string): void {
    this.requireToken(tok, kind, rule);
    this.requireActive(rule, tok);
    if (tok.memView) throw new OwnershipError(rule, `${tok} is already activated (mem_view is Some); dispose it first`, [tok.id]);
    const rem = this.memView!;
    const hole = rem.firstHole(tok.range.start, tok.range.end);
    if (hole !== undefined) {
      const w = this.writerIdx.findOverlap(hole, hole + 1n, (v) => v.activated);
      const why = w ? `; ${w} holds it` : " (not mapped)";
      throw new OwnershipError(rule, `${tok}: ${hex(hole)} does not translate in the remaining view${why}`, w ? [tok.id, w.id] : [tok.id]);
    }
  }

  private requireNoAlias(tok: VmIoOwner, view: MemView): { pa: bigint; end: bigint }[] {
    if (!this.phys) return [];
    const ranges = view.physRanges();
    const c = this.phys.conflict(tok, ranges);
    if (c) {
      throw new OwnershipError(
        "x86mmu::no_physical_alias",
        `${tok} reaches physical ${hex(c.pa)}.., which ${c.holder}${c.holder.owner !== this ? ` of ${c.holder.owner.label}` : ""} holds (the same frame through another virtual address)`,
        [tok.id, c.holder.id],
      );
    }
    return ranges;
  }

  /**
   * vostd `activate_reader`: the reader borrows `memView.borrowAt(range)`.
   * Requires: the token is a registered reader of this space without a view;
   * the space is active; every byte of its range translates in the remaining
   * view; (aliasing tracked) no activated writer reaches its frames.
   * Ensures: the token holds a ReadView; the remaining view is unchanged.
   */
  activateReader(tok: VmIoOwner): void {
    const rule = "VmSpaceOwner::activate_reader";
    this.requireActivatable(tok, "reader", rule);
    const view = this.memView!.borrowAt(tok.range.start, tok.range.end - tok.range.start);
    const ranges = this.requireNoAlias(tok, view);
    tok.memView = { kind: "ReadView", view };
    if (this.phys) tok.physKeys = this.phys.add(tok, ranges);
    this.afterOp();
  }

  /**
   * vostd `activate_writer`: the writer takes `memView.split(range)`; those
   * mappings leave the remaining view until it gives them back.
   * Requires as activateReader, and (aliasing tracked) that no other
   * activated reader or writer reaches its frames.
   * Ensures: the token holds a WriteView; the remaining view lost exactly its range.
   */
  activateWriter(tok: VmIoOwner): void {
    const rule = "VmSpaceOwner::activate_writer";
    this.requireActivatable(tok, "writer", rule);
    const [view, rest] = this.memView!.split(tok.range.start, tok.range.end - tok.range.start);
    const ranges = this.requireNoAlias(tok, view);
    tok.memView = { kind: "WriteView", view };
    this.memView = rest;
    if (this.phys) tok.physKeys = this.phys.add(tok, ranges);
    this.afterOp();
  }

  // ---- Dispose and remove ----

  private release(tok: VmIoOwner): void {
    if (tok.memView?.kind === "WriteView") this.memView = this.memView!.join(tok.memView.view);
    tok.memView = undefined;
    if (this.phys) this.phys.remove(tok);
  }

  /**
   * vostd `dispose_reader`: the reader's borrow ends; the token stays
   * registered and can be activated again. Requires a registered reader of
   * this space that holds a view. (Unlike vostd, the space need not be
   * active: giving rights back is always safe.)
   */
  disposeReader(tok: VmIoOwner): void {
    const rule = "VmSpaceOwner::dispose_reader";
    this.requireToken(tok, "reader", rule);
    if (!tok.memView) throw new OwnershipError(rule, `${tok} holds no view (not activated, or disposed already)`, [tok.id]);
    this.release(tok);
    this.afterOp();
  }

  /**
   * vostd `dispose_writer`: the writer's whole view rejoins the remaining
   * view; the token stays registered. Requires a registered writer of this
   * space that holds a view.
   */
  disposeWriter(tok: VmIoOwner): void {
    const rule = "VmSpaceOwner::dispose_writer";
    this.requireToken(tok, "writer", rule);
    if (!tok.memView) throw new OwnershipError(rule, `${tok} holds no view (not activated, or disposed already)`, [tok.id]);
    this.release(tok);
    this.afterOp();
  }

  private lookup(map: Map<number, VmIoOwner>, t: VmIoOwner | number, kind: VmIoKind, rule: string): VmIoOwner {
    if (typeof t !== "number" && !(t instanceof VmIoOwner)) throw new ArgumentError(`${rule} takes a VmIoOwner token or its id, not ${show(t)}`);
    const id = typeof t === "number" ? t : t.id;
    const tok = map.get(id);
    if (!tok || (typeof t !== "number" && tok !== t)) {
      const what = typeof t === "number" ? `${kind} #${id}` : String(t);
      throw new OwnershipError(rule, `${what} is not registered with ${this.label} (removed already, or never created here)`, [id]);
    }
    return tok;
  }

  /**
   * vostd `remove_reader`: the reader leaves `readers` for good (its borrow,
   * if any, ends first). Requires a registered reader of this space.
   */
  removeReader(t: VmIoOwner | number): void {
    const tok = this.lookup(this.readerMap, t, "reader", "VmSpaceOwner::remove_reader");
    if (tok.memView) this.release(tok);
    this.readerMap.delete(tok.id);
    this.readerIdx.remove(tok.id);
    tok.registered = false;
    this.afterOp();
  }

  /**
   * vostd `remove_writer`: the writer leaves `writers` for good; a view it
   * still holds rejoins the remaining view first. Requires a registered
   * writer of this space.
   */
  removeWriter(t: VmIoOwner | number): void {
    const tok = this.lookup(this.writerMap, t, "writer", "VmSpaceOwner::remove_writer");
    if (tok.memView) this.release(tok);
    this.writerMap.delete(tok.id);
    this.writerIdx.remove(tok.id);
    tok.registered = false;
    this.afterOp();
  }

  // ---- Gates (per copy, O(1)) ----

  /**
   * The gate of every copy through `tok` over [a, b): the token is registered,
   * of `kind`, holds its view, [a, b) lies in its range, and the space is
   * active. Throws OwnershipError otherwise.
   */
  gate(tok: VmIoOwner, kind: VmIoKind, a: bigint, b: bigint): void {
    const wf = kind === "reader" ? "VmReader::wf" : "VmWriter::wf";
    if (tok.kind !== kind) throw new OwnershipError(kind === "reader" ? "VmIoOwner::has_read_view" : "VmIoOwner::has_write_view", `${tok} is a ${tok.kind}, not a ${kind}`, [tok.id]);
    if (!tok.registered) throw new OwnershipError(wf, `${tok} was removed; its reader/writer can no longer be used`, [tok.id]);
    if (!tok.memView) {
      throw new OwnershipError(kind === "reader" ? "VmIoOwner::has_read_view" : "VmIoOwner::has_write_view", `${tok} holds no view (not activated, or disposed)`, [tok.id]);
    }
    if (a < tok.range.start || b > tok.range.end) throw new OwnershipError(wf, `bytes ${rangeText({ start: a, end: b })} lie outside ${tok}`, [tok.id]);
    if (!this.active) throw new OwnershipError("VmSpaceOwner::active", `${this.label} is not active; ${tok} cannot copy`, [tok.id]);
    if (!this.isLoaded()) throw new OwnershipError("VmSpaceOwner::active", `CR3 no longer holds the root of ${this.label}; ${tok} cannot copy`, [tok.id]);
  }

  // ---- Page-table changes ----

  /**
   * Requires that no activated reader or writer holds a byte of [a, b)
   * (a change there would break `mem_view_wf`). O(log n).
   */
  requireUnheld(a: bigint, b: bigint, op: string): void {
    // The activated tokens are the registered ones holding a view: found through the reader and writer
    // indexes (their overlap test may be vostd's closed one, so the half-open test is made here).
    const held = (v: VmIoOwner): boolean => v.activated && v.range.start < v.range.end && v.range.start < b && a < v.range.end;
    const t = a < b ? (this.writerIdx.findOverlap(a, b, held) ?? this.readerIdx.findOverlap(a, b, held)) : undefined;
    if (t) throw new OwnershipError("VmSpaceOwner::mem_view_wf", `${op} ${rangeText({ start: a, end: b })} refused: ${t} holds part of it; dispose it first`, [t.id]);
  }

  /**
   * @internal After the page table changed over [a, b) (nothing held there):
   * the total view and the remaining view both take `pieces` there.
   */
  applyChange(a: bigint, b: bigint, pieces: readonly ViewPiece[]): void {
    this.mvRange = this.mvRange!.replace(a, b, pieces);
    this.memView = this.memView!.replace(a, b, pieces);
    this.afterOp();
  }

  /** @internal After protect over [a, b). */
  applyFlags(a: bigint, b: bigint, f: (flags: bigint) => bigint): void {
    this.mvRange = this.mvRange!.mapFlags(a, b, f);
    this.memView = this.memView!.mapFlags(a, b, f);
    this.afterOp();
  }

  // ---- Invariants ----

  /** In debug mode, checks inv() in full and throws OwnershipError("VmSpaceOwner::inv") on a violation. */
  afterOp(): void {
    if (this.debug) this.assertInv();
  }

  /** Throws OwnershipError("VmSpaceOwner::inv") listing every broken clause. */
  assertInv(): void {
    const v = this.invViolations();
    if (v.length) throw new OwnershipError("VmSpaceOwner::inv", v.join("; "));
  }

  /** vostd `mem_view_wf`, restricted to each token's range as ostd-model.md says. Full check. */
  memViewWf(): boolean {
    return this.memViewWfViolations().length === 0;
  }

  /** vostd `inv`, in full (O(n^2) in tokens, O(tables) for the page table). */
  inv(): boolean {
    return this.invViolations().length === 0;
  }

  memViewWfViolations(): string[] {
    const out: string[] = [];
    const R = this.memView;
    const T = this.mvRange;
    if ((R === undefined) !== (T === undefined)) return ["memView is present exactly when mvRange is"];
    if (!R || !T) return out;
    if (!R.wellFormed()) out.push("the remaining view is not well formed (sorted, disjoint, merged)");
    if (!T.wellFormed()) out.push("the total view is not well formed");
    if (!R.subsetOf(T)) out.push("the remaining view is not a subset of the total view");
    let union = R;
    const writerViews: [VmIoOwner, MemView][] = [];
    for (const w of this.writerMap.values()) {
      if (!w.memView) continue;
      if (w.memView.kind !== "WriteView") {
        out.push(`${w} holds a ${w.memView.kind}`);
        continue;
      }
      const W = w.memView.view;
      if (!W.covers(w.range.start, w.range.end) || !W.translatesLike(T, w.range.start, w.range.end)) out.push(`${w}'s view does not translate its range like the total view`);
      if (!W.subsetOf(T)) out.push(`${w}'s view is not part of the total view`);
      if (!W.disjointFrom(R)) out.push(`${w}'s view shares bytes with the remaining view`);
      for (const [o, V] of writerViews) if (!W.disjointFrom(V)) out.push(`${w} and ${o} hold the same bytes`);
      writerViews.push([w, W]);
      try {
        union = union.join(W);
      } catch {
        /* reported above */
      }
    }
    if (!union.equals(T)) out.push("the remaining view and the writers' views together are not the total view (a mapping was lost)");
    for (const r of this.readerMap.values()) {
      if (!r.memView) continue;
      if (r.memView.kind !== "ReadView") {
        out.push(`${r} holds a ${r.memView.kind}`);
        continue;
      }
      const V = r.memView.view;
      if (!V.covers(r.range.start, r.range.end) || !V.translatesLike(T, r.range.start, r.range.end)) out.push(`${r}'s view does not translate its range like the total view`);
      for (const [w, W] of writerViews) if (!V.disjointFrom(W)) out.push(`${r} and ${w} reach the same bytes`);
    }
    return out;
  }

  invViolations(): string[] {
    const out: string[] = [];
    for (const v of this.pageTableOwner.violations()) out.push(`page table: ${v}`);
    if (this.mvRange && !this.pageTableOwner.walk().equals(this.mvRange)) out.push("the page table in memory does not map exactly the total view");
    out.push(...this.memViewWfViolations());
    const closed = this.strictOverlap;
    const readers = [...this.readerMap.values()];
    const writers = [...this.writerMap.values()];
    for (const t of [...readers, ...writers]) if (!t.inv()) out.push(`${t} breaks VmIoOwner::inv`);
    for (const t of [...readers, ...writers]) if (!t.registered) out.push(`${t} is listed but removed`);
    for (let i = 0; i < writers.length; i++) {
      for (let j = i + 1; j < writers.length; j++) if (writers[i]!.overlapsWithRange(writers[j]!.range, closed)) out.push(`${writers[i]} overlaps ${writers[j]}`);
      for (const r of readers) if (writers[i]!.overlapsWithRange(r.range, closed)) out.push(`${writers[i]} overlaps ${r}`);
    }
    if (!this.sharedReader) {
      for (let i = 0; i < readers.length; i++) for (let j = i + 1; j < readers.length; j++) if (readers[i]!.overlapsWithRange(readers[j]!.range, closed)) out.push(`${readers[i]} overlaps ${readers[j]} (sharedReader is off)`);
    }
    // The indexes agree with the lists.
    if (!this.readerIdx.check() || this.readerIdx.size !== readers.length) out.push("the reader index is out of step");
    if (!this.writerIdx.check() || this.writerIdx.size !== writers.length) out.push("the writer index is out of step");
    if (this.phys) out.push(...this.phys.violations());
    return out;
  }
}
