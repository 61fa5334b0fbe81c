/**
 * The sorted pieces of a MemView, kept in a two-level tree that views share:
 * pieces in chunks (about CHUNK each), chunks in groups (about GROUP each).
 * A split or a join rebuilds the chunk it touches, that chunk's group index
 * and the top index (n / (CHUNK * GROUP) entries), never the whole list. So
 * creating, activating and disposing a reader or writer costs about
 * O(log n + CHUNK + GROUP + n / (CHUNK * GROUP)) with n pieces in the space's
 * view, where one flat chunk index cost O(n / CHUNK) (issue 12: a view with
 * 10,000 activated tokens has about 5,000 pieces, 150 chunks).
 *
 * Immutable, like the views: every change returns a new Pieces.
 */

import type { ViewPiece } from "./mem-view.js";

/** Pieces per chunk when chunks are (re)built; chunks shrink below it as pieces are cut out, and are merged back when small. */
const CHUNK = 64;
/** Chunks per group when groups are (re)built, with the same rule. */
const GROUP = 32;

type Chunk = readonly ViewPiece[];

/** A run of chunks; offs[c] is the index (within the group) of chunk c's first piece, offs[chunks.length] the group's piece count. */
interface Group {
  readonly chunks: readonly Chunk[];
  readonly offs: readonly number[];
  /** The group's last piece (its end and start bound the group). */
  readonly last: ViewPiece;
}

function groupOf(chunks: readonly Chunk[]): Group {
  const offs = new Array<number>(chunks.length + 1);
  let n = 0;
  for (let c = 0; c < chunks.length; c++) {
    offs[c] = n;
    n += chunks[c]!.length;
  }
  offs[chunks.length] = n;
  const lastChunk = chunks[chunks.length - 1]!;
  return { chunks, offs, last: lastChunk[lastChunk.length - 1]! };
}

/** The last index in [0, len) whose offset is <= i, for ascending `offs`. */
function indexAt(offs: readonly number[], len: number, i: number): number {
  let lo = 0;
  let hi = len - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (offs[mid]! <= i) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

export class Pieces implements Iterable<ViewPiece> {
  static readonly EMPTY = new Pieces([], [0]);

  private constructor(
    private readonly groups: readonly Group[],
    /** offs[g]: the index of group g's first piece; offs[groups.length]: the number of pieces. */
    private readonly offs: readonly number[],
  ) {}

  /** Pieces from a sorted array (the array is not kept). */
  static from(ps: readonly ViewPiece[]): Pieces {
    if (ps.length === 0) return Pieces.EMPTY;
    return Pieces.ofGroups(regroup(rechunk(ps)));
  }

  private static ofGroups(groups: readonly Group[]): Pieces {
    if (groups.length === 0) return Pieces.EMPTY;
    const offs = new Array<number>(groups.length + 1);
    let n = 0;
    for (let g = 0; g < groups.length; g++) {
      offs[g] = n;
      n += groups[g]!.offs[groups[g]!.chunks.length]!;
    }
    offs[groups.length] = n;
    return new Pieces(groups, offs);
  }

  get length(): number {
    return this.offs[this.offs.length - 1]!;
  }

  /** Piece i, or undefined past the end. */
  get(i: number): ViewPiece | undefined {
    if (i < 0 || i >= this.length) return undefined;
    const g = indexAt(this.offs, this.groups.length, i);
    const grp = this.groups[g]!;
    const k = i - this.offs[g]!;
    const c = indexAt(grp.offs, grp.chunks.length, k);
    return grp.chunks[c]![k - grp.offs[c]!];
  }

  /** The index of the first piece whose end is above `va` (length if none). */
  firstEndAbove(va: bigint): number {
    const gs = this.groups;
    let lo = 0;
    let hi = gs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (gs[mid]!.last.end <= va) lo = mid + 1;
      else hi = mid;
    }
    if (lo === gs.length) return this.length;
    const grp = gs[lo]!;
    const cs = grp.chunks;
    let a = 0;
    let b = cs.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      const ch = cs[mid]!;
      if (ch[ch.length - 1]!.end <= va) a = mid + 1;
      else b = mid;
    }
    const ch = cs[a]!;
    let x = 0;
    let y = ch.length;
    while (x < y) {
      const mid = (x + y) >>> 1;
      if (ch[mid]!.end <= va) x = mid + 1;
      else y = mid;
    }
    return this.offs[lo]! + grp.offs[a]! + x;
  }

  /** The index of the first piece at or after `from` whose start is at or above `va` (length if none). */
  firstStartAtOrAbove(va: bigint, from: number): number {
    const gs = this.groups;
    let lo = 0;
    let hi = gs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (gs[mid]!.last.start < va) lo = mid + 1;
      else hi = mid;
    }
    let at = this.length;
    if (lo < gs.length) {
      const grp = gs[lo]!;
      const cs = grp.chunks;
      let a = 0;
      let b = cs.length;
      while (a < b) {
        const mid = (a + b) >>> 1;
        const ch = cs[mid]!;
        if (ch[ch.length - 1]!.start < va) a = mid + 1;
        else b = mid;
      }
      const ch = cs[a]!;
      let x = 0;
      let y = ch.length;
      while (x < y) {
        const mid = (x + y) >>> 1;
        if (ch[mid]!.start < va) x = mid + 1;
        else y = mid;
      }
      at = this.offs[lo]! + grp.offs[a]! + x;
    }
    return at < from ? from : at;
  }

  /** Pieces [i, j) as an array. */
  slice(i: number, j: number): ViewPiece[] {
    const out: ViewPiece[] = [];
    if (i >= j) return out;
    let g = indexAt(this.offs, this.groups.length, i);
    let grp = this.groups[g]!;
    let c = indexAt(grp.offs, grp.chunks.length, i - this.offs[g]!);
    let k = i - this.offs[g]! - grp.offs[c]!;
    for (let n = i; n < j; n++) {
      const ch = grp.chunks[c]!;
      out.push(ch[k]!);
      if (++k === ch.length) {
        k = 0;
        if (++c === grp.chunks.length && n + 1 < j) {
          c = 0;
          grp = this.groups[++g]!;
        }
      }
    }
    return out;
  }

  /** These pieces with [i, j) replaced by `repl` (the caller keeps the result sorted and merged). */
  splice(i: number, j: number, repl: readonly ViewPiece[]): Pieces {
    const n = this.length;
    if (n === 0) return Pieces.from(repl);
    const gs = this.groups;
    // The group and chunk holding piece i (the last chunk when i is the end), and those holding piece j - 1.
    const g0 = i < n ? indexAt(this.offs, gs.length, i) : gs.length - 1;
    const c0 = i < n ? indexAt(gs[g0]!.offs, gs[g0]!.chunks.length, i - this.offs[g0]!) : gs[g0]!.chunks.length - 1;
    let g1 = j > 0 ? indexAt(this.offs, gs.length, Math.min(j, n) - 1) : 0;
    let c1 = j > 0 ? indexAt(gs[g1]!.offs, gs[g1]!.chunks.length, Math.min(j, n) - 1 - this.offs[g1]!) : 0;
    if (g1 < g0 || (g1 === g0 && c1 < c0)) {
      g1 = g0;
      c1 = c0;
    }
    // The new pieces of those chunks: the first one's head, repl, the last one's tail.
    const first = gs[g0]!.chunks[c0]!;
    const last = gs[g1]!.chunks[c1]!;
    const headLen = i - this.offs[g0]! - gs[g0]!.offs[c0]!;
    const tailAt = j - this.offs[g1]! - gs[g1]!.offs[c1]!;
    const middle: ViewPiece[] = [];
    for (let k = 0; k < headLen; k++) middle.push(first[k]!);
    for (let k = 0; k < repl.length; k++) middle.push(repl[k]!);
    for (let k = tailAt; k < last.length; k++) middle.push(last[k]!);
    // Keep chunks from shrinking to nothing: a small middle takes the next chunk in (from the next group if need be).
    while (middle.length < CHUNK / 2) {
      if (c1 + 1 < gs[g1]!.chunks.length) c1++;
      else if (g1 + 1 < gs.length) {
        g1++;
        c1 = 0;
      } else break;
      for (const p of gs[g1]!.chunks[c1]!) middle.push(p);
    }
    // The chunks of groups g0..g1 with c0..c1 rebuilt; a small run takes the next group in.
    const chunks: Chunk[] = [];
    for (let c = 0; c < c0; c++) chunks.push(gs[g0]!.chunks[c]!);
    if (middle.length > 0) for (const ch of middle.length <= CHUNK ? [middle] : rechunk(middle)) chunks.push(ch);
    for (let c = c1 + 1; c < gs[g1]!.chunks.length; c++) chunks.push(gs[g1]!.chunks[c]!);
    while (chunks.length < GROUP / 2 && g1 + 1 < gs.length) for (const ch of gs[++g1]!.chunks) chunks.push(ch);
    const mid = chunks.length === 0 ? [] : chunks.length <= GROUP ? [groupOf(chunks)] : regroup(chunks);
    // The top index, copied once with the rebuilt groups in place of g0..g1.
    const count = gs.length - (g1 - g0 + 1) + mid.length;
    if (count === 0) return Pieces.EMPTY;
    const groups = new Array<Group>(count);
    const offs = new Array<number>(count + 1);
    for (let g = 0; g < g0; g++) {
      groups[g] = gs[g]!;
      offs[g] = this.offs[g]!;
    }
    let at = this.offs[g0]!;
    let g = g0;
    for (const grp of mid) {
      groups[g] = grp;
      offs[g++] = at;
      at += grp.offs[grp.chunks.length]!;
    }
    for (let d = g1 + 1; d < gs.length; d++) {
      groups[g] = gs[d]!;
      offs[g++] = at;
      at += gs[d]!.offs[gs[d]!.chunks.length]!;
    }
    offs[count] = at;
    return new Pieces(groups, offs);
  }

  *[Symbol.iterator](): Iterator<ViewPiece> {
    for (const grp of this.groups) for (const ch of grp.chunks) yield* ch;
  }

  toArray(): ViewPiece[] {
    const out: ViewPiece[] = [];
    for (const grp of this.groups) for (const ch of grp.chunks) for (const p of ch) out.push(p);
    return out;
  }

  /** @internal The shape, for tests: pieces per chunk, per group. */
  shape(): number[][] {
    return this.groups.map((grp) => grp.chunks.map((ch) => ch.length));
  }
}

/** `xs` cut into about equal runs of at most `size` (none empty). */
function cut<T>(xs: readonly T[], size: number): T[][] {
  const count = Math.max(1, Math.ceil(xs.length / size));
  const each = Math.ceil(xs.length / count);
  const out: T[][] = [];
  for (let s = 0; s < xs.length; s += each) out.push(xs.slice(s, s + each));
  return out;
}

/** `ps` cut into chunks of about CHUNK pieces (none empty). */
function rechunk(ps: readonly ViewPiece[]): ViewPiece[][] {
  return cut(ps, CHUNK);
}

/** `chunks` cut into groups of about GROUP chunks (none empty). */
function regroup(chunks: readonly Chunk[]): Group[] {
  return cut(chunks, GROUP).map(groupOf);
}
