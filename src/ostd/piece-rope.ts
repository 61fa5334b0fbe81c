/**
 * The sorted pieces of a MemView, kept in chunks that views share: a split
 * or a join rebuilds only the chunks it touches and copies the chunk index
 * (n / CHUNK entries), never the whole piece list. So creating, activating
 * and disposing a reader or writer costs O(log n + n / CHUNK) with n pieces
 * in the space's view, where copying the list cost O(n) (issue 12: a view
 * with 10,000 activated tokens has about 5,000 pieces).
 *
 * Immutable, like the views: every change returns a new Pieces.
 */

import type { ViewPiece } from "./mem-view.js";

/** Pieces per chunk when chunks are (re)built; chunks shrink below it as pieces are cut out, and are merged back when small. */
const CHUNK = 64;

export class Pieces implements Iterable<ViewPiece> {
  static readonly EMPTY = new Pieces([], [0]);

  private constructor(
    private readonly chunks: readonly (readonly ViewPiece[])[],
    /** offs[c]: the index of chunk c's first piece; offs[chunks.length]: the number of pieces. */
    private readonly offs: readonly number[],
  ) {}

  /** Pieces from a sorted array (the array is not kept). */
  static from(ps: readonly ViewPiece[]): Pieces {
    if (ps.length === 0) return Pieces.EMPTY;
    return Pieces.build(rechunk(ps));
  }

  private static build(chunks: (readonly ViewPiece[])[]): Pieces {
    const offs = new Array<number>(chunks.length + 1);
    let n = 0;
    for (let c = 0; c < chunks.length; c++) {
      offs[c] = n;
      n += chunks[c]!.length;
    }
    offs[chunks.length] = n;
    return new Pieces(chunks, offs);
  }

  get length(): number {
    return this.offs[this.offs.length - 1]!;
  }

  /** The chunk holding piece i (0 <= i < length). */
  private chunkOf(i: number): number {
    let lo = 0;
    let hi = this.chunks.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.offs[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** Piece i, or undefined past the end. */
  get(i: number): ViewPiece | undefined {
    if (i < 0 || i >= this.length) return undefined;
    const c = this.chunkOf(i);
    return this.chunks[c]![i - this.offs[c]!];
  }

  /** The index of the first piece whose end is above `va` (length if none). */
  firstEndAbove(va: bigint): number {
    const cs = this.chunks;
    let lo = 0;
    let hi = cs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const ch = cs[mid]!;
      if (ch[ch.length - 1]!.end <= va) lo = mid + 1;
      else hi = mid;
    }
    if (lo === cs.length) return this.length;
    const ch = cs[lo]!;
    let a = 0;
    let b = ch.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (ch[mid]!.end <= va) a = mid + 1;
      else b = mid;
    }
    return this.offs[lo]! + a;
  }

  /** The index of the first piece at or after `from` whose start is at or above `va` (length if none). */
  firstStartAtOrAbove(va: bigint, from: number): number {
    const cs = this.chunks;
    let lo = 0;
    let hi = cs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const ch = cs[mid]!;
      if (ch[ch.length - 1]!.start < va) lo = mid + 1;
      else hi = mid;
    }
    let at = this.length;
    if (lo < cs.length) {
      const ch = cs[lo]!;
      let a = 0;
      let b = ch.length;
      while (a < b) {
        const mid = (a + b) >>> 1;
        if (ch[mid]!.start < va) a = mid + 1;
        else b = mid;
      }
      at = this.offs[lo]! + a;
    }
    return at < from ? from : at;
  }

  /** Pieces [i, j) as an array. */
  slice(i: number, j: number): ViewPiece[] {
    const out: ViewPiece[] = [];
    if (i >= j) return out;
    let c = this.chunkOf(i);
    let k = i - this.offs[c]!;
    for (let n = i; n < j; n++) {
      const ch = this.chunks[c]!;
      out.push(ch[k]!);
      if (++k === ch.length) {
        c++;
        k = 0;
      }
    }
    return out;
  }

  /** These pieces with [i, j) replaced by `repl` (the caller keeps the result sorted and merged). */
  splice(i: number, j: number, repl: readonly ViewPiece[]): Pieces {
    const n = this.length;
    if (n === 0) return Pieces.from(repl);
    const cs = this.chunks;
    const c0 = i < n ? this.chunkOf(i) : cs.length - 1;
    let c1 = j > 0 ? this.chunkOf(Math.min(j, n) - 1) : 0;
    if (c1 < c0) c1 = c0;
    const head = cs[c0]!.slice(0, i - this.offs[c0]!);
    const tail = cs[c1]!.slice(j - this.offs[c1]!);
    let middle = head.concat(repl, tail);
    // Keep chunks from shrinking to nothing: a small middle takes its next chunk in.
    while (middle.length < CHUNK / 2 && c1 + 1 < cs.length) middle = middle.concat(cs[++c1]!);
    const chunks = cs.slice(0, c0).concat(middle.length ? rechunk(middle) : [], cs.slice(c1 + 1));
    return chunks.length ? Pieces.build(chunks) : Pieces.EMPTY;
  }

  *[Symbol.iterator](): Iterator<ViewPiece> {
    for (const ch of this.chunks) yield* ch;
  }

  toArray(): ViewPiece[] {
    const out: ViewPiece[] = [];
    for (const ch of this.chunks) for (const p of ch) out.push(p);
    return out;
  }
}

/** `ps` cut into chunks of about CHUNK pieces (none empty). */
function rechunk(ps: readonly ViewPiece[]): ViewPiece[][] {
  const count = Math.max(1, Math.ceil(ps.length / CHUNK));
  const size = Math.ceil(ps.length / count);
  const out: ViewPiece[][] = [];
  for (let s = 0; s < ps.length; s += size) out.push(ps.slice(s, s + size));
  return out;
}
