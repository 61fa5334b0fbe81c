/**
 * An interval index: a set of (possibly overlapping) 64-bit ranges, each with
 * a key and a value, answering "does any range overlap [a, b)?" in
 * O(log n) expected time.
 *
 * It is a treap ordered by (start, key) whose every node also records the
 * largest end in its subtree (the classic augmented interval tree, CLRS 14.3).
 * A query descends only into subtrees whose largest end can still reach the
 * query and whose starts are not past it, so finding one overlap costs
 * O(log n) and listing k overlaps O(k log n).
 *
 * Overlap is half-open by default: [s, e) and [a, b) overlap when
 * s < b && a < e, and an empty range overlaps nothing. With `closed` the test
 * is vostd's `overlaps_with_range`, s <= b && a <= e, under which back-to-back
 * ranges and empty ranges touching a range overlap too.
 */

interface Node<T> {
  start: bigint;
  end: bigint;
  key: number;
  value: T;
  prio: number;
  maxEnd: bigint;
  left: Node<T> | null;
  right: Node<T> | null;
}

function before(aStart: bigint, aKey: number, b: Node<unknown>): boolean {
  return aStart < b.start || (aStart === b.start && aKey < b.key);
}

function update<T>(n: Node<T>): Node<T> {
  let m = n.end;
  if (n.left && n.left.maxEnd > m) m = n.left.maxEnd;
  if (n.right && n.right.maxEnd > m) m = n.right.maxEnd;
  n.maxEnd = m;
  return n;
}

/** Splits t into the nodes ordered before (start, key) and the rest. */
function split<T>(t: Node<T> | null, start: bigint, key: number): [Node<T> | null, Node<T> | null] {
  if (!t) return [null, null];
  if (before(t.start, t.key, { start, key } as Node<unknown>)) {
    const [l, r] = split(t.right, start, key);
    t.right = l;
    return [update(t), r];
  }
  const [l, r] = split(t.left, start, key);
  t.left = r;
  return [l, update(t)];
}

function merge<T>(a: Node<T> | null, b: Node<T> | null): Node<T> | null {
  if (!a) return b;
  if (!b) return a;
  if (a.prio > b.prio) {
    a.right = merge(a.right, b);
    return update(a);
  }
  b.left = merge(a, b.left);
  return update(b);
}

export class IntervalIndex<T> {
  private root: Node<T> | null = null;
  private readonly byKey = new Map<number, Node<T>>();

  /** `closed`: use vostd's `<=` overlap test instead of the half-open one. */
  constructor(readonly closed = false) {}

  get size(): number {
    return this.byKey.size;
  }

  has(key: number): boolean {
    return this.byKey.has(key);
  }

  /** Adds [start, end) under `key` (which must not be present). */
  insert(key: number, start: bigint, end: bigint, value: T): void {
    if (this.byKey.has(key)) throw new Error(`interval key ${key} is already present`);
    if (end < start) throw new Error(`interval end ${end} is below its start ${start}`);
    const node: Node<T> = { start, end, key, value, prio: Math.random(), maxEnd: end, left: null, right: null };
    const [l, r] = split(this.root, start, key);
    this.root = merge(merge(l, node), r);
    this.byKey.set(key, node);
  }

  /** Removes the range under `key`; returns whether it was present. */
  remove(key: number): boolean {
    const node = this.byKey.get(key);
    if (!node) return false;
    this.root = this.removeFrom(this.root, node);
    this.byKey.delete(key);
    return true;
  }

  private removeFrom(t: Node<T> | null, node: Node<T>): Node<T> | null {
    if (!t) return null;
    if (t === node) return merge(t.left, t.right);
    if (before(node.start, node.key, t)) t.left = this.removeFrom(t.left, node);
    else t.right = this.removeFrom(t.right, node);
    return update(t);
  }

  private overlapsNode(n: Node<T>, a: bigint, b: bigint): boolean {
    if (this.closed) return n.start <= b && a <= n.end;
    return n.start < n.end && a < b && n.start < b && a < n.end;
  }

  /**
   * The value of one range overlapping [a, b) for which `accept` (default:
   * any) holds, or undefined. O(log n) when `accept` holds for the first found.
   */
  findOverlap(a: bigint, b: bigint, accept?: (v: T, key: number) => boolean): T | undefined {
    if (!this.closed && a >= b) return undefined;
    return this.search(this.root, a, b, accept);
  }

  /** Whether any range overlaps [a, b). */
  anyOverlap(a: bigint, b: bigint): boolean {
    return this.findOverlap(a, b) !== undefined;
  }

  private search(t: Node<T> | null, a: bigint, b: bigint, accept?: (v: T, key: number) => boolean): T | undefined {
    // Nothing in t reaches a: prune.
    if (!t || (this.closed ? t.maxEnd < a : t.maxEnd <= a)) return undefined;
    const inLeft = this.search(t.left, a, b, accept);
    if (inLeft !== undefined) return inLeft;
    // t and everything right of it start at or after t.start: past b, prune.
    if (this.closed ? t.start > b : t.start >= b) return undefined;
    if (this.overlapsNode(t, a, b) && (!accept || accept(t.value, t.key))) return t.value;
    return this.search(t.right, a, b, accept);
  }

  /** Every value whose range overlaps [a, b), in start order. */
  overlapping(a: bigint, b: bigint): T[] {
    const out: T[] = [];
    if (!this.closed && a >= b) return out;
    this.collect(this.root, a, b, out);
    return out;
  }

  private collect(t: Node<T> | null, a: bigint, b: bigint, out: T[]): void {
    if (!t || (this.closed ? t.maxEnd < a : t.maxEnd <= a)) return;
    this.collect(t.left, a, b, out);
    if (this.closed ? t.start > b : t.start >= b) return;
    if (this.overlapsNode(t, a, b)) out.push(t.value);
    this.collect(t.right, a, b, out);
  }

  /** Every (key, start, end, value), in start order. */
  entries(): { key: number; start: bigint; end: bigint; value: T }[] {
    const out: { key: number; start: bigint; end: bigint; value: T }[] = [];
    const walk = (t: Node<T> | null): void => {
      if (!t) return;
      walk(t.left);
      out.push({ key: t.key, start: t.start, end: t.end, value: t.value });
      walk(t.right);
    };
    walk(this.root);
    return out;
  }

  /** Checks the tree's own invariant (order, heap priorities, maxEnd); for debug mode and tests. */
  check(): boolean {
    let ok = true;
    let count = 0;
    const walk = (t: Node<T> | null, lo: Node<T> | null, hi: Node<T> | null): bigint => {
      if (!t) return -1n;
      count++;
      if (lo && !before(lo.start, lo.key, t)) ok = false;
      if (hi && !before(t.start, t.key, hi)) ok = false;
      if (t.left && t.left.prio > t.prio) ok = false;
      if (t.right && t.right.prio > t.prio) ok = false;
      const l = walk(t.left, lo, t);
      const r = walk(t.right, t, hi);
      let m = t.end;
      if (l > m) m = l;
      if (r > m) m = r;
      if (m !== t.maxEnd) ok = false;
      return m;
    };
    walk(this.root, null, null);
    return ok && count === this.byKey.size;
  }
}
