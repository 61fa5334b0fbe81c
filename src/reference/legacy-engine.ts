/**
 * One access of a scenario in a legacy paging mode (format version 2,
 * docs/scenario-format.md): 32-bit paging, PAE paging or paging off. The
 * walks are legacy-walker.ts's; this file adds what surrounds them:
 *
 * - Before the access (with the format's TLB flush) the PAE PDPTE registers
 *   are loaded from CR3[31:5] (SDM 4.4.1). A present PDPTE with a reserved bit
 *   makes the access `#GP(0)`, and it changes nothing. The registers hold for
 *   the whole access, also for its second page.
 * - Linear addresses are 32 bits and wrap at 4 GiB: an access whose bytes pass
 *   0xffffffff continues at linear 0. A page-crossing access translates its
 *   first page (setting its flags), then its second; a fault on the second
 *   page reports CR2 = that page's first address (0 for the wrapped page); a
 *   write stores no byte unless both pages translated. A read takes the first
 *   page's bytes before the second page is translated, as engine.ts does for
 *   long mode (QEMU 7.2's order).
 * - No canonical check: every 32-bit address is valid.
 * - Paging off: the physical address is the linear address; nothing faults.
 */
import type { Access, AccessResult, CpuState, WalkStep } from "../scenario/types.js";
import type { PhysicalMemory } from "./memory.js";
import {
  LINEAR_MASK_32,
  badPdpte,
  badPdpteStep,
  legacyWalk,
  loadPdptes,
  type LegacyMode,
  type LegacyWalkOutcome,
  type PdpteRegisters,
} from "./legacy-walker.js";

const PAGE_SIZE = 0x1000n;

/** Performs one access in `mode` on `mem`, returning its result. */
export function performLegacyAccess(cpu: CpuState, mem: PhysicalMemory, a: Access, mode: LegacyMode, trace: boolean): AccessResult {
  const walkLog: WalkStep[] = [];
  const withWalk = <T extends AccessResult>(r: T): T => (trace ? { ...r, walk: walkLog } : r);

  // PAE: the PDPTE registers are (re)loaded before each access.
  let pdptes: PdpteRegisters | undefined;
  if (mode === "pae") {
    pdptes = loadPdptes(cpu, mem);
    const bad = badPdpte(cpu, pdptes);
    if (bad !== undefined) {
      walkLog.push(badPdpteStep(cpu, pdptes, bad));
      return withWalk({ ok: false, fault: "GP", errorCode: 0n });
    }
  }

  const translate = (va: bigint): LegacyWalkOutcome => {
    if (mode === "none") return { ok: true, pa: va, steps: [] };
    return legacyWalk(cpu, mem, { va, op: a.op, cpl: a.cpl, ac: a.ac }, mode, pdptes);
  };

  // Pieces: [linear address, byte count] on each page, wrapping at 4 GiB.
  const first = a.va & LINEAR_MASK_32;
  const inPage = Number(PAGE_SIZE - (first & (PAGE_SIZE - 1n)));
  const pieces: Array<{ va: bigint; len: number }> =
    a.size <= inPage ? [{ va: first, len: a.size }] : [{ va: first, len: inPage }, { va: (first + BigInt(inPage)) & LINEAR_MASK_32, len: a.size - inPage }];

  const pas: bigint[] = [];
  let value = 0n;
  let shift = 0n;
  for (const piece of pieces) {
    const t = translate(piece.va);
    walkLog.push(...t.steps);
    if (!t.ok) return withWalk({ ok: false, fault: "PF", errorCode: t.errorCode, cr2: piece.va });
    pas.push(t.pa);
    if (a.op === "read") value |= mem.read(t.pa, piece.len) << shift;
    shift += BigInt(8 * piece.len);
  }

  if (a.op === "write") {
    shift = 0n;
    pieces.forEach((piece, i) => {
      mem.write(pas[i]!, piece.len, a.value >> shift);
      shift += BigInt(8 * piece.len);
    });
  }
  if (a.op === "read") return withWalk({ ok: true, pa: pas[0]!, value });
  return withWalk({ ok: true, pa: pas[0]! });
}
