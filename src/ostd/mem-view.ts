/**
 * `MemView`: a set of mappings (virtual page -> physical frame, page size,
 * flags) and, with them, the right to touch the bytes they reach. It is the
 * run-time counterpart of vostd's `MemView` (`ostd/specs/mm/virt_mem.rs`).
 *
 * A view is held as a sorted array of disjoint *pieces*: a piece is a run of
 * virtual bytes [start, end) inside pages of one size and one set of flags,
 * whose physical bytes are contiguous from `pa`. Adjacent pieces that continue
 * each other (same page size and flags, contiguous physical bytes) are always
 * merged, so two views that translate alike have the same pieces. A piece may
 * cover part of a page: splitting is exact to the byte, unlike vostd's
 * `MemView::split`, which keeps a straddling page on both sides.
 *
 * Views are immutable: `borrowAt`, `split`, `join` and the page-table updates
 * return new views. Lookups are binary searches, O(log n).
 */

import { X86MmuError, ArgumentError, show, bigintOf, functionOf } from "../base/index.js";
import { hex } from "../base/index.js";
import { Pieces } from "./piece-rope.js";

/** One page mapping: `size` bytes of virtual memory from `va` to physical memory from `pa`. */
export interface Mapping {
  readonly va: bigint;
  readonly pa: bigint;
  /** Page size in bytes: 0x1000, 0x200000 or 0x40000000. */
  readonly size: bigint;
  /** The leaf entry's rights and attributes (P, R/W, U/S, PWT, PCD, G, PK, XD; never A or D). */
  readonly flags: bigint;
}

/** A run of translated bytes: virtual [start, end) to physical [pa, pa + end - start). */
export interface ViewPiece {
  readonly start: bigint;
  readonly end: bigint;
  readonly pa: bigint;
  readonly pageSize: bigint;
  readonly flags: bigint;
}

/** A translation through a view. */
export interface ViewTranslation {
  pa: bigint;
  pageSize: bigint;
  flags: bigint;
}

/** A requirement of a MemView operation (vostd `tracked_join` requires disjoint views) was broken. */
export class MemViewError extends X86MmuError {
  constructor(message: string) {
    super("MEM_VIEW", message);
  }
}

function continues(a: ViewPiece, b: ViewPiece): boolean {
  return a.end === b.start && a.pa + (a.end - a.start) === b.pa && a.pageSize === b.pageSize && a.flags === b.flags;
}

function clip(p: ViewPiece, a: bigint, b: bigint): ViewPiece {
  const s = p.start > a ? p.start : a;
  const e = p.end < b ? p.end : b;
  if (s === p.start && e === p.end) return p;
  return { start: s, end: e, pa: p.pa + (s - p.start), pageSize: p.pageSize, flags: p.flags };
}

/** Appends `p` to sorted `out`, merging it with the last piece when it continues it. */
function push(out: ViewPiece[], p: ViewPiece): void {
  if (p.end <= p.start) return;
  const last = out[out.length - 1];
  if (last && continues(last, p)) out[out.length - 1] = { start: last.start, end: p.end, pa: last.pa, pageSize: last.pageSize, flags: last.flags };
  else out.push(p);
}

/** An iterable argument (a MemView's pieces or mappings). */
function iterableOf<T>(v: Iterable<T>, what: string): Iterable<T> {
  if (v === null || v === undefined || typeof v === "string" || typeof (v as { [Symbol.iterator]?: unknown })[Symbol.iterator] !== "function") {
    throw new ArgumentError(`${what} must be an iterable (an array), not ${show(v)}`);
  }
  return v;
}

/** A piece as given by a caller: bigint fields, a positive page size. */
function checkPiece(p: ViewPiece): ViewPiece {
  if (typeof p !== "object" || p === null) throw new ArgumentError(`a view piece is { start, end, pa, pageSize, flags } (bigints), not ${show(p)}`);
  for (const k of ["start", "end", "pa", "pageSize", "flags"] as const) bigintOf(p[k], `piece ${k}`);
  if (p.pageSize <= 0n) throw new ArgumentError(`piece pageSize ${show(p.pageSize)} is not positive`);
  return p;
}

function checkView(v: MemView, what = "view"): MemView {
  if (!(v instanceof MemView)) throw new ArgumentError(`${what} must be a MemView, not ${show(v)}`);
  return v;
}

export class MemView {
  private constructor(private readonly ps: Pieces) {}

  static readonly EMPTY = new MemView(Pieces.EMPTY);

  /** A view of `pieces` (any order; they must be disjoint). Throws MemViewError if two overlap. */
  static of(pieces: Iterable<ViewPiece>): MemView {
    const sorted = [...iterableOf(pieces, "pieces")].map(checkPiece).filter((p) => p.end > p.start).sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : 0));
    const out: ViewPiece[] = [];
    for (const p of sorted) {
      const last = out[out.length - 1];
      if (last && last.end > p.start) throw new MemViewError(`mappings overlap at ${hex(p.start)}`);
      push(out, p);
    }
    return new MemView(Pieces.from(out));
  }

  /** A view of whole page mappings. */
  static ofMappings(mappings: Iterable<Mapping>): MemView {
    const pieces: ViewPiece[] = [];
    for (const m of iterableOf(mappings, "mappings")) {
      if (typeof m !== "object" || m === null) throw new ArgumentError(`a mapping is { va, pa, size, flags } (bigints), not ${show(m)}`);
      for (const k of ["va", "pa", "size", "flags"] as const) bigintOf(m[k], `mapping ${k}`);
      pieces.push({ start: m.va, end: m.va + m.size, pa: m.pa, pageSize: m.size, flags: m.flags });
    }
    return MemView.of(pieces);
  }

  /** The pieces, sorted and disjoint (a copy: O(n)). */
  get pieces(): readonly ViewPiece[] {
    return this.ps.toArray();
  }

  get isEmpty(): boolean {
    return this.ps.length === 0;
  }

  /** Index of the first piece whose end is above `va`. */
  private lower(va: bigint): number {
    return this.ps.firstEndAbove(va);
  }

  /** vostd `addr_transl`: where `va` goes through this view, or undefined. O(log n). */
  addrTransl(va: bigint): ViewTranslation | undefined {
    bigintOf(va);
    const p = this.ps.get(this.lower(va));
    if (!p || p.start > va) return undefined;
    return { pa: p.pa + (va - p.start), pageSize: p.pageSize, flags: p.flags };
  }

  /** The page mapping that `va` lies in, as far as this view holds it. */
  mappingAt(va: bigint): Mapping | undefined {
    const t = this.addrTransl(va);
    if (!t) return undefined;
    const off = va % t.pageSize;
    return { va: va - off, pa: t.pa - off, size: t.pageSize, flags: t.flags };
  }

  /** Whether every byte of [a, b) translates. O(log n + pieces in the range). */
  covers(a: bigint, b: bigint): boolean {
    bigintOf(a, "range start");
    bigintOf(b, "range end");
    let at = a;
    for (let i = this.lower(a); at < b; i++) {
      const p = this.ps.get(i);
      if (!p || p.start > at) return false;
      at = p.end;
    }
    return true;
  }

  /** The first byte of [a, b) that does not translate, or undefined. */
  firstHole(a: bigint, b: bigint): bigint | undefined {
    bigintOf(a, "range start");
    bigintOf(b, "range end");
    let at = a;
    for (let i = this.lower(a); at < b; i++) {
      const p = this.ps.get(i);
      if (!p || p.start > at) return at;
      at = p.end;
    }
    return undefined;
  }

  /** Whether any byte of [a, b) translates. */
  touches(a: bigint, b: bigint): boolean {
    bigintOf(a, "range start");
    bigintOf(b, "range end");
    const p = this.ps.get(this.lower(a));
    return p !== undefined && p.start < b && a < b;
  }

  /** The pieces of [a, b), clipped to it. */
  slice(a: bigint, b: bigint): ViewPiece[] {
    bigintOf(a, "range start");
    bigintOf(b, "range end");
    const out: ViewPiece[] = [];
    const n = this.ps.length;
    for (let i = this.lower(a); i < n; i++) {
      const p = this.ps.get(i)!;
      if (p.start >= b) break;
      if (a < b) out.push(clip(p, a, b));
    }
    return out;
  }

  /**
   * vostd `borrow_at(va, len)`: a view of [va, va + len) only (exact to the
   * byte); this view is unchanged.
   */
  borrowAt(va: bigint, len: bigint): MemView {
    bigintOf(va);
    bigintOf(len, "length");
    return new MemView(Pieces.from(this.slice(va, va + len)));
  }

  /**
   * vostd `split(va, len)`: [the part in [va, va + len), the rest]. Exact: a
   * page that straddles a boundary is cut, each side keeps only its bytes.
   */
  split(va: bigint, len: bigint): [MemView, MemView] {
    bigintOf(va);
    bigintOf(len, "length");
    const a = va;
    const b = va + len;
    const i0 = this.lower(a);
    const j = this.firstAtOrAfter(b, i0);
    const inside: ViewPiece[] = [];
    const mid: ViewPiece[] = [];
    for (const p of this.ps.slice(i0, j)) {
      if (p.start < a) push(mid, clip(p, p.start, a));
      if (a < b) push(inside, clip(p, a, b));
      if (p.end > b) push(mid, clip(p, b, p.end));
    }
    // Pieces are canonical, so nothing outside [i0, j) merges with the cut ones: O(log n + k), the rest shared (piece-rope.ts).
    return [new MemView(Pieces.from(inside)), new MemView(this.ps.splice(i0, j, mid))];
  }

  /** Index of the first piece at or after `from` whose start is at or above `va`. */
  private firstAtOrAfter(va: bigint, from: number): number {
    return this.ps.firstStartAtOrAbove(va, from);
  }

  /**
   * vostd `join(other)`: the union of two disjoint views. Throws MemViewError
   * (changing nothing) when they share a virtual byte. O(log n + m + n / 64):
   * the pieces outside the merged window are shared (piece-rope.ts).
   */
  join(other: MemView): MemView {
    const bp = checkView(other, "join's view").ps;
    if (bp.length === 0) return this;
    if (this.ps.length === 0) return other;
    const b = bp.toArray();
    const lo = Math.max(0, this.lower(b[0]!.start) - 1);
    const hi = Math.min(this.ps.length, this.firstAtOrAfter(b[b.length - 1]!.end, lo) + 1);
    const a = this.ps.slice(lo, hi);
    const out: ViewPiece[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      const next = j >= b.length || (i < a.length && a[i]!.start < b[j]!.start) ? a[i++]! : b[j++]!;
      const last = out[out.length - 1];
      if (last && last.end > next.start) throw new MemViewError(`join: views overlap at ${hex(next.start)}`);
      push(out, next);
    }
    return new MemView(this.ps.splice(lo, hi, out));
  }

  /** This view with [a, b) removed and `pieces` (inside [a, b), sorted, disjoint) put there. */
  replace(a: bigint, b: bigint, pieces: readonly ViewPiece[]): MemView {
    bigintOf(a, "range start");
    bigintOf(b, "range end");
    iterableOf(pieces, "pieces");
    const [, rest] = this.split(a, b - a);
    return rest.join(MemView.of(pieces));
  }

  /** This view with `f` applied to the flags of every piece in [a, b). */
  mapFlags(a: bigint, b: bigint, f: (flags: bigint) => bigint): MemView {
    functionOf(f, "mapFlags's function");
    return this.replace(a, b, this.slice(a, b).map((p) => ({ ...p, flags: f(p.flags) })));
  }

  /** Whether the views share no virtual byte. O(n + m). */
  disjointFrom(other: MemView): boolean {
    let i = 0;
    let j = 0;
    const a = this.ps.toArray();
    const b = checkView(other).ps.toArray();
    while (i < a.length && j < b.length) {
      const x = a[i]!;
      const y = b[j]!;
      if (x.start < y.end && y.start < x.end) return false;
      if (x.end <= y.end) i++;
      else j++;
    }
    return true;
  }

  /** Whether every byte this view translates, `other` translates the same way (pa, page size, flags). */
  subsetOf(other: MemView): boolean {
    checkView(other);
    for (const p of this.ps) {
      const q = other.slice(p.start, p.end);
      let at = p.start;
      for (const r of q) {
        if (r.start !== at || r.pa !== p.pa + (r.start - p.start) || r.pageSize !== p.pageSize || r.flags !== p.flags) return false;
        at = r.end;
      }
      if (at !== p.end) return false;
    }
    return true;
  }

  /** Whether the two views translate [a, b) identically (including where neither does). */
  translatesLike(other: MemView, a: bigint, b: bigint): boolean {
    checkView(other);
    return MemView.of(this.slice(a, b)).equals(MemView.of(other.slice(a, b)));
  }

  /** Same pieces (pieces are canonical, so: same translations). */
  equals(other: MemView): boolean {
    checkView(other);
    if (this.ps.length !== other.ps.length) return false;
    const xs = this.ps.toArray();
    const ys = other.ps.toArray();
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i]!;
      const y = ys[i]!;
      if (x.start !== y.start || x.end !== y.end || x.pa !== y.pa || x.pageSize !== y.pageSize || x.flags !== y.flags) return false;
    }
    return true;
  }

  /** Pieces are sorted, disjoint, non-empty, merged, and stay inside one page size's alignment. */
  wellFormed(): boolean {
    const ps = this.ps.toArray();
    for (let i = 0; i < ps.length; i++) {
      const p = ps[i]!;
      if (p.end <= p.start) return false;
      if (p.start % p.pageSize !== p.pa % p.pageSize) return false;
      const prev = ps[i - 1];
      if (prev && (prev.end > p.start || continues(prev, p))) return false;
    }
    return true;
  }

  /** The page mappings this view reaches (a page it holds only part of is listed once). */
  mappings(): Mapping[] {
    const out: Mapping[] = [];
    for (const p of this.ps) {
      for (let va = p.start - (p.start % p.pageSize); va < p.end; va += p.pageSize) {
        const pa = p.pa + (va - p.start);
        if (out.length && out[out.length - 1]!.va === va) continue;
        out.push({ va, pa, size: p.pageSize, flags: p.flags });
      }
    }
    return out;
  }

  /** The physical byte ranges the view reaches, contiguous ones merged. */
  physRanges(): { pa: bigint; end: bigint }[] {
    const out: { pa: bigint; end: bigint }[] = [];
    for (const p of this.ps) {
      const end = p.pa + (p.end - p.start);
      const last = out[out.length - 1];
      if (last && last.end === p.pa) last.end = end;
      else out.push({ pa: p.pa, end });
    }
    return out;
  }

  /** Bytes translated. */
  get bytes(): bigint {
    let n = 0n;
    for (const p of this.ps) n += p.end - p.start;
    return n;
  }

  toString(): string {
    return this.ps.toArray().map((p) => `${hex(p.start)}..${hex(p.end)}->${hex(p.pa)}`).join(", ") || "(empty)";
  }
}
