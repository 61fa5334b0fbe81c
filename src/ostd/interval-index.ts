/**
 * An interval index: a set of (possibly overlapping) 64-bit ranges, each with
 * a key and a value, answering "does any range overlap [a, b)?" in
 * O(log n) expected time.
 *
 * It is a treap ordered by (start, key) whose every node also records the
 * largest end in its subtree (the classic augmented interval tree, CLRS 14.3).
 * A query descends only into subtrees whose largest end can still reach the
 * query and whose starts are not past it, so finding one overlap costs
 * O(log n) and listing k overlaps O(k log n). Insert walks down to a leaf
 * and rotates the node up; remove puts the merge of its children in its
 * place and fixes the maxEnd of its ancestors; neither allocates beyond the
 * node (the owner layer makes six of each per reader-writer copy).
 *
 * Overlap is half-open by default: [s, e) and [a, b) overlap when
 * s < b && a < e, and an empty range overlaps nothing. With `closed` the test
 * is vostd's `overlaps_with_range`, s <= b && a <= e, under which back-to-back
 * ranges and empty ranges touching a range overlap too.
 */

/** A treap node: ordered by (start, key), a max-heap on prio, and maxEnd the largest end below it. */
class Node<T> {
  maxEnd: bigint;
  left: Node<T> | null = null;
  right: Node<T> | null = null;
  constructor(
    readonly start: bigint,
    readonly end: bigint,
    readonly key: number,
    readonly value: T,
    readonly prio: number,
  ) {
    this.maxEnd = end;
  }
}

/** Whether node a orders before node b: by start, then by key. */
function before(a: Node<unknown>, b: Node<unknown>): boolean {
  return a.start < b.start || (a.start === b.start && a.key < b.key);
}

function update<T>(n: Node<T>): Node<T> {
  let m = n.end;
  if (n.left !== null && n.left.maxEnd > m) m = n.left.maxEnd;
  if (n.right !== null && n.right.maxEnd > m) m = n.right.maxEnd;
  n.maxEnd = m;
  return n;
}

/** The treap of a's nodes then b's (every node of a orders before every node of b). */
function merge<T>(a: Node<T> | null, b: Node<T> | null): Node<T> | null {
  if (a === null) return b;
  if (b === null) return a;
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
  /** The path from the root in insert and remove (reused: those walk down, then fix up on the way back). */
  private readonly path: Node<T>[] = [];

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
    const n = new Node(start, end, key, value, Math.random());
    this.byKey.set(key, n);
    let t = this.root;
    if (t === null) {
      this.root = n;
      return;
    }
    // Down to a leaf position; every node passed will hold n, so its maxEnd takes n's end.
    const path = this.path;
    let depth = 0;
    for (;;) {
      if (t.maxEnd < n.end) t.maxEnd = n.end;
      path[depth++] = t;
      const next: Node<T> | null = before(n, t) ? t.left : t.right;
      if (next === null) break;
      t = next;
    }
    if (before(n, t)) t.left = n;
    else t.right = n;
    const filled = depth;
    // Up by rotations while n's priority is above its parent's (expected fewer than two).
    while (depth > 0) {
      const p = path[depth - 1]!;
      if (p.prio >= n.prio) break;
      if (p.left === n) {
        p.left = n.right;
        n.right = p;
      } else {
        p.right = n.left;
        n.left = p;
      }
      update(p);
      update(n);
      depth--;
      const g = depth > 0 ? path[depth - 1]! : null;
      if (g === null) this.root = n;
      else if (g.left === p) g.left = n;
      else g.right = n;
    }
    for (let i = 0; i < filled; i++) path[i] = null as unknown as Node<T>;
  }

  /** Removes the range under `key`; returns whether it was present. */
  remove(key: number): boolean {
    const node = this.byKey.get(key);
    if (!node) return false;
    this.byKey.delete(key);
    const path = this.path;
    let depth = 0;
    let t = this.root!;
    while (t !== node) {
      path[depth++] = t;
      t = before(node, t) ? t.left! : t.right!;
    }
    const repl = merge(node.left, node.right);
    const p = depth > 0 ? path[depth - 1]! : null;
    if (p === null) this.root = repl;
    else if (p.left === node) p.left = repl;
    else p.right = repl;
    // The ancestors lost node's end: recompute their maxEnd bottom-up.
    for (let i = depth - 1; i >= 0; i--) {
      update(path[i]!);
      path[i] = null as unknown as Node<T>;
    }
    node.left = node.right = null;
    return true;
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
    if (t === null || (this.closed ? t.maxEnd < a : t.maxEnd <= a)) return undefined;
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
    if (t === null || (this.closed ? t.maxEnd < a : t.maxEnd <= a)) return;
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
      if (lo && !before(lo, t)) ok = false;
      if (hi && !before(t, hi)) ok = false;
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
