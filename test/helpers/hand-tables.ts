/**
 * Page tables written by hand for tests that count TLB and walk events
 * exactly: every entry has A set (and the leaves D), so each walk is the
 * fast walk and reads one entry per level.
 *
 *     PML4 0x1000 [0] → PDPT 0x2000 [0] → PD 0x3000 [2] → PT 0x4000
 *     PT [0]: linear 0x400000 → 0x10000, [1]: 0x401000 → 0x11000
 *
 * `more` writes further entries (w(pa, value)) before CR3 is loaded.
 */
import { Mmu, LONG_MODE } from "../../src/index.js";

export function handMadeMmu(more?: (w: (pa: bigint, v: bigint) => void, mmu: Mmu) => void): Mmu {
  const mmu = new Mmu();
  const w = (pa: bigint, v: bigint) => mmu.memory.write(pa, 8, v);
  w(0x1000n, 0x2027n); // P RW US A
  w(0x2000n, 0x3027n);
  w(0x3010n, 0x4027n);
  w(0x4000n, 0x10067n); // P RW US A D
  w(0x4008n, 0x11067n);
  more?.(w, mmu);
  mmu.loadState({ ...LONG_MODE, cr3: 0x1000n });
  mmu.resetTlbStats();
  return mmu;
}
