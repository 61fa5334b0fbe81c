/**
 * The reference page walker: a deliberately plain reading of the Intel SDM
 * Vol. 3A chapter 4 (4.5 4-level and 5-level paging, 4.6 access rights,
 * 4.6.2 protection keys, 4.7 page-fault exceptions, 4.8 accessed and dirty
 * flags), with the choices the scenario format (docs/scenario-format.md)
 * takes from QEMU's TCG where the SDM leaves them open.
 *
 * It translates one linear address for one access, with no TLB: every call
 * reads the paging structures from memory and sets accessed/dirty flags in
 * memory as it goes. Page-crossing accesses and the canonical-address check
 * are the engine's business (engine.ts); `walk` handles one page.
 */
import {
  CR0_WP_BIT,
  CR4_LA57_BIT,
  CR4_PKE_BIT,
  CR4_PKS_BIT,
  CR4_SMAP_BIT,
  CR4_SMEP_BIT,
  EFER_NXE_BIT,
  ENTRIES_PER_TABLE,
  LEVEL_PD,
  LEVEL_PDPT,
  LEVEL_PML4,
  LEVEL_PML5,
  LEVEL_PT,
  PAGE_SHIFT,
  PFEC_ID,
  PFEC_P,
  PFEC_PK,
  PFEC_RSVD,
  PFEC_U,
  PFEC_W,
  PTE_A_BIT,
  PTE_ADDR_TOP_BIT,
  PTE_D_BIT,
  PTE_P_BIT,
  PTE_PAT_LARGE_BIT,
  PTE_PK_SHIFT,
  PTE_PS_BIT,
  PTE_RW_BIT,
  PTE_US_BIT,
  PTE_XD_BIT,
} from "../arch/index.js";
import type { CpuState, Op, WalkStep } from "../scenario/types.js";
import type { PhysicalMemory } from "./memory.js";
import { allowsOf } from "../arch/index.js";

/** Bit `n` of `v`, as a boolean. */
export function bit(v: bigint, n: number): boolean {
  return ((v >> BigInt(n)) & 1n) === 1n;
}

/** A mask of bits `lo` to `hi` inclusive. */
export function bits(hi: number, lo: number): bigint {
  if (hi < lo) return 0n;
  return ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}

const LEVEL_NAMES: Record<number, string> = {
  [LEVEL_PML5]: "PML5",
  [LEVEL_PML4]: "PML4",
  [LEVEL_PDPT]: "PDPT",
  [LEVEL_PD]: "PD",
  [LEVEL_PT]: "PT",
};

/** Bits 51:12 of an entry (or CR3): the physical address of the next table or of a 4 KiB frame. */
const ADDR_MASK = bits(PTE_ADDR_TOP_BIT, PAGE_SHIFT);

/** How many low linear-address bits a page mapped at `level` covers: 12, 21 or 30. */
function pageShift(level: number): number {
  return PAGE_SHIFT + 9 * (level - 1);
}

/**
 * Is `va` canonical (SDM Vol. 1 3.3.7.1, Vol. 3A 4.5): with 4-level paging
 * bits 63:48 equal bit 47; with 5-level paging (CR4.LA57) bits 63:57 equal
 * bit 56.
 */
export function isCanonical(cpu: CpuState, va: bigint): boolean {
  const top = bit(cpu.cr4, CR4_LA57_BIT) ? 56 : 47;
  const upper = va >> BigInt(top);
  return upper === 0n || upper === (1n << BigInt(64 - top)) - 1n;
}

export interface WalkInput {
  /** The linear address to translate (any byte of the page). */
  va: bigint;
  op: Op;
  cpl: 0 | 3;
  /** EFLAGS.AC. */
  ac: boolean;
}

export type WalkOutcome =
  | { ok: true; pa: bigint; steps: WalkStep[] }
  | { ok: false; errorCode: bigint; steps: WalkStep[] };

/**
 * Translates `input.va` for one access, reading the paging structures from
 * `mem` and setting accessed/dirty flags there. Returns the physical address
 * of `input.va`, or the page-fault error code.
 */
export function walk(cpu: CpuState, mem: PhysicalMemory, input: WalkInput): WalkOutcome {
  const { va, op, ac } = input;
  const user = input.cpl === 3;
  const write = op === "write";
  const fetch = op === "fetch";

  const wp = bit(cpu.cr0, CR0_WP_BIT);
  const la57 = bit(cpu.cr4, CR4_LA57_BIT);
  const smep = bit(cpu.cr4, CR4_SMEP_BIT);
  const smap = bit(cpu.cr4, CR4_SMAP_BIT);
  const pke = bit(cpu.cr4, CR4_PKE_BIT);
  const pks = bit(cpu.cr4, CR4_PKS_BIT);
  const nxe = bit(cpu.efer, EFER_NXE_BIT);

  const steps: WalkStep[] = [];

  // Section 4.7: the error code always describes the access (W/R, U/S, and
  // I/D for a fetch when EFER.NXE or CR4.SMEP is 1); the cause adds P, RSVD, PK.
  let accessBits = 0n;
  if (write) accessBits |= BigInt(PFEC_W);
  if (user) accessBits |= BigInt(PFEC_U);
  if (fetch && (nxe || smep)) accessBits |= BigInt(PFEC_ID);
  const fault = (cause: number, why: string): WalkOutcome => {
    steps[steps.length - 1]!.stop = why;
    return { ok: false, errorCode: accessBits | BigInt(cause), steps };
  };

  // Reserved bits of every entry (Tables 4-15..4-20): bits MAXPHYADDR..51,
  // and bit 63 (XD) when EFER.NXE = 0.
  let rsvdCommon = bits(PTE_ADDR_TOP_BIT, cpu.maxphyaddr);
  if (!nxe) rsvdCommon |= 1n << BigInt(PTE_XD_BIT);

  // Access rights accumulate over the walk (4.6.1): R/W and U/S must be 1 in
  // every entry, XD must be 0 in every entry.
  let rw = true;
  let us = true;
  let xd = false;

  let table = cpu.cr3 & ADDR_MASK;
  let level = la57 ? LEVEL_PML5 : LEVEL_PML4;
  let leaf: { entry: bigint; entryAddr: bigint; level: number } | undefined;

  for (;;) {
    const index = Number((va >> BigInt(pageShift(level))) & BigInt(ENTRIES_PER_TABLE - 1));
    const entryAddr = table + 8n * BigInt(index);
    const entry = mem.read64(entryAddr);
    const ps = bit(entry, PTE_PS_BIT);
    const isLeaf = level === LEVEL_PT || ((level === LEVEL_PD || level === LEVEL_PDPT) && ps);
    const leafSize = !isLeaf ? undefined : level === LEVEL_PT ? "4K" : level === LEVEL_PD ? "2M" : "1G";
    steps.push({
      level: LEVEL_NAMES[level]!,
      table,
      index,
      entryAddr,
      entry,
      allows: allowsOf(entry, leafSize, nxe),
    });

    // Not present: every other bit is ignored.
    if (!bit(entry, PTE_P_BIT)) return fault(0, "not present");

    // Reserved bits. PS is reserved in a PML5E and a PML4E (Tables 4-14, 4-15).
    let rsvd = rsvdCommon;
    if (level === LEVEL_PML5 || level === LEVEL_PML4) rsvd |= 1n << BigInt(PTE_PS_BIT);
    if ((entry & rsvd) !== 0n) return fault(PFEC_P | PFEC_RSVD, "reserved bit set");

    rw &&= bit(entry, PTE_RW_BIT);
    us &&= bit(entry, PTE_US_BIT);
    xd ||= nxe && bit(entry, PTE_XD_BIT);

    // Accessed flag of a paging-structure entry that references a table (4.8),
    // set as soon as the entry is present and free of reserved bits. QEMU's
    // choice: a PDPTE gets it before PS is looked at, so a 1 GiB leaf has it
    // too, even when the access then faults.
    if (!isLeaf || level === LEVEL_PDPT) {
      if (!bit(entry, PTE_A_BIT)) mem.write64(entryAddr, entry | (1n << BigInt(PTE_A_BIT)));
    }

    if (isLeaf) {
      // A 2 MiB or 1 GiB frame address starts at bit 21 or 30: bits 20:13 or
      // 29:13 are reserved (bit 12 is PAT) (Tables 4-17, 4-19).
      if (level !== LEVEL_PT) {
        const frameLow = bits(pageShift(level) - 1, PTE_PAT_LARGE_BIT + 1);
        if ((entry & frameLow) !== 0n) return fault(PFEC_P | PFEC_RSVD, "reserved bit set (large-page frame address)");
      }
      leaf = { entry, entryAddr, level };
      break;
    }
    table = entry & ADDR_MASK;
    level -= 1;
  }

  // ---- Access rights (4.6) ----
  const { entry } = leaf;
  // A user-mode access to a supervisor-mode address is never allowed; QEMU
  // (and the format) report it without looking at protection keys.
  if (user && !us) return fault(PFEC_P, "user access to a supervisor page");

  let allowed: boolean;
  if (fetch) {
    // Fetches: XD forbids them; SMEP forbids supervisor fetches from user pages.
    allowed = !xd && (user || !(smep && us));
  } else {
    // Data: SMAP forbids supervisor accesses to user pages unless EFLAGS.AC = 1.
    const smapBlocks = !user && us && smap && !ac;
    if (smapBlocks) allowed = false;
    else if (!write) allowed = true;
    // Writes need R/W = 1 everywhere, except supervisor writes with CR0.WP = 0.
    else allowed = rw || (!user && !wp);
  }

  // ---- Protection keys (4.6.2): data accesses only. PKRU governs user-mode
  // addresses (CR4.PKE), IA32_PKRS supervisor-mode addresses (CR4.PKS). WD
  // denies user writes, and supervisor writes when CR0.WP = 1. The PK bit is
  // reported whenever the key denies the access, even if the paging rights
  // deny it too (the format's choice, after QEMU and SDM 4.7).
  if (!fetch) {
    const pkr = us ? (pke ? cpu.pkru : 0n) : pks ? cpu.pkrs : 0n;
    const key = Number((entry >> BigInt(PTE_PK_SHIFT)) & 0xfn);
    const accessDisable = bit(pkr, 2 * key);
    const writeDisable = bit(pkr, 2 * key + 1);
    if (accessDisable) return fault(PFEC_P | PFEC_PK, `protection key ${key}: access disabled`);
    if (write && writeDisable && (user || wp)) return fault(PFEC_P | PFEC_PK, `protection key ${key}: write disabled`);
  }

  if (!allowed) {
    let why: string;
    if (fetch) why = xd ? "execute-disable" : "SMEP: supervisor fetch from a user page";
    else if (!user && us && smap && !ac) why = "SMAP: supervisor access to a user page with EFLAGS.AC = 0";
    else why = "write to a read-only page";
    return fault(PFEC_P, why);
  }

  // ---- Accessed and dirty flags of the leaf (4.8), only for an allowed access. ----
  let updated = entry | (1n << BigInt(PTE_A_BIT));
  if (write) updated |= 1n << BigInt(PTE_D_BIT);
  // (For a 1 GiB leaf the walk already stored A; storing it again is harmless.)
  if (updated !== entry) mem.write64(leaf.entryAddr, updated);

  const shift = BigInt(pageShift(leaf.level));
  const frame = entry & ADDR_MASK & ~((1n << shift) - 1n);
  const pa = frame | (va & ((1n << shift) - 1n));
  return { ok: true, pa, steps };
}
