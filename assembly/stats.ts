/**
 * TLB and walk statistics, cheap enough to stay on: one add per TLB hit (a
 * batch adds its hits once, at the end), the rest on slow paths only.
 *
 *     stats (u64 each): +0 hits   translations served by the TLB
 *                       +8 misses lookups that had to walk
 *                       +16 walks page walks started (TLB misses and probes)
 *                       +24 entries paging-structure entries read (nested ones included)
 *                       +32 pscHits walks that started from the PDE cache (psc.ts)
 */

import { perCpu } from "./percpu";

export const stats: usize = ASC_FEATURE_THREADS ? perCpu(40, 8) : memory.data(40, 8);

@inline export function countHits(n: u32): void {
  store<u64>(stats, load<u64>(stats) + (n as u64));
}
@inline export function countMiss(): void {
  store<u64>(stats, load<u64>(stats, 8) + 1, 8);
  store<u64>(stats, load<u64>(stats, 16) + 1, 16);
}
@inline export function countWalk(): void {
  store<u64>(stats, load<u64>(stats, 16) + 1, 16);
}
@inline export function countEntry(): void {
  store<u64>(stats, load<u64>(stats, 24) + 1, 24);
}

/** A batch's misses finished on its fast path, counted once at its end: `misses` walks that read `entries` entries, `pscHits` of them from the PDE cache. */
@inline export function countFastMisses(misses: u32, entries: u32, pscHits: u32): void {
  if (misses == 0) return;
  store<u64>(stats, load<u64>(stats, 8) + (misses as u64), 8);
  store<u64>(stats, load<u64>(stats, 16) + (misses as u64), 16);
  store<u64>(stats, load<u64>(stats, 24) + (entries as u64), 24);
  store<u64>(stats, load<u64>(stats, 32) + (pscHits as u64), 32);
}

@inline export function countPscHit(): void {
  store<u64>(stats, load<u64>(stats, 32) + 1, 32);
}

export function statsReset(): void {
  memory.fill(stats, 0, 40);
}
