/**
 * The threads build's one lock over shared structures: the frame store's
 * radix tree and host allocator (frames.ts) and the page-table builder's
 * frame allocator (pagetable.ts). Translations, loads and stores of frames
 * that already have storage take no lock; a store that gives a frame its
 * storage, and every builder call, do.
 *
 * Those modules keep their state in wasm globals, which are per instance,
 * and a copy of it in shared memory (their "home"): on entering under the
 * lock a module loads its globals from home if the lock was taken again
 * since it last did (lockEpoch), and on leaving it stores them back. So the
 * globals are right exactly while the lock is held, and the single-CPU build
 * (ASC_FEATURE_THREADS false) compiles all of this away.
 *
 * It cannot deadlock: there is one lock, it is re-entrant within an
 * instance (a depth count), and the core never calls out to JavaScript while
 * holding it. It is a spin lock because a browser's main thread may not
 * block; what it guards is short (an allocation, a memory.grow, a map call).
 * A worker terminated while inside the core could leave it held: the host
 * terminates a worker only when it is not inside a call.
 */

/** The lock word, shared by every instance (0 free, 1 held). */
const word: usize = memory.data(64, 64);
let depth: u32 = 0;
let epoch: u32 = 0;

export function lockTake(): void {
  if (!ASC_FEATURE_THREADS) return;
  if (depth++ == 0) {
    while (atomic.cmpxchg<i32>(word, 0, 1) != 0) {}
    epoch++;
  }
}

export function lockGive(): void {
  if (!ASC_FEATURE_THREADS) return;
  if (--depth == 0) atomic.store<i32>(word, 0);
}

/** Changes every time this instance takes the lock from free: globals loaded before are stale. */
@inline export function lockEpoch(): u32 {
  return epoch;
}
