/**
 * The reference walks of the legacy paging modes (scenario format version 2,
 * docs/scenario-format.md): 32-bit paging (Intel SDM Vol. 3A 4.3), PAE paging
 * (4.4) and paging off, with the access rights of 4.6, the page-fault error
 * code of 4.7 and the accessed/dirty flags of 4.8. Like walker.ts (4-level
 * and 5-level paging) it is a plain reading of the SDM text with BigInt
 * arithmetic and no caches; it shares no code with that walker, so that each
 * mode can be read on its own.
 *
 * Which mode applies follows from CR0.PG, CR4.PAE and EFER.LME (SDM 4.1.1):
 *
 *   CR0.PG  CR4.PAE  EFER.LME   mode
 *   0       any      any        no paging: linear address = physical address
 *   1       0        0          32-bit paging
 *   1       1        0          PAE paging
 *   1       1        1          4-level / 5-level paging (walker.ts)
 *
 * The format's own rules (not the SDM's) that show here:
 * - The TLB is flushed and, with PAE paging, the four PDPTE registers are
 *   loaded from memory before each access ({@link loadPdptes}); a present
 *   PDPTE with a reserved bit makes the access a #GP(0) that changes nothing.
 * - A non-leaf PDE gets its accessed flag as the walk passes it, even if the
 *   access then faults; a leaf gets A (and D for a write) only when the access
 *   is allowed (QEMU's choices, as in version 1).
 * - A reserved-bit fault has P set in its error code.
 */
import type { CpuState, Op, WalkStep } from "../scenario/types.js";
import type { PhysicalMemory } from "./memory.js";

// ---- Bits, written out here so that this file reads on its own ----

/** Bit `n` of `v`, as a boolean. */
function bit(v: bigint, n: number): boolean {
  return ((v >> BigInt(n)) & 1n) === 1n;
}

/** A mask of bits `lo` to `hi` inclusive (0 when hi < lo). */
function bits(hi: number, lo: number): bigint {
  if (hi < lo) return 0n;
  return ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}

// Control registers (SDM 2.5) and EFER (2.2.1).
const CR0_PG = 31;
const CR0_WP = 16;
const CR4_PSE = 4;
const CR4_PAE = 5;
const CR4_SMEP = 20;
const CR4_SMAP = 21;
const EFER_LME = 8;
const EFER_NXE = 11;

// Paging-structure entry bits (Tables 4-4..4-6, 4-8..4-11).
const P = 0;
const RW = 1;
const US = 2;
const A = 5;
const D = 6;
const PS = 7;
const XD = 63;

// Page-fault error code (4.7).
const PF_P = 0x1n;
const PF_W = 0x2n;
const PF_U = 0x4n;
const PF_RSVD = 0x8n;
const PF_ID = 0x10n;

/** Linear addresses outside long mode are 32 bits wide. */
export const LINEAR_MASK_32 = bits(31, 0);

export type LegacyMode = "none" | "32-bit" | "pae";

/**
 * The paging mode of `cpu` when it is not long mode (SDM 4.1.1), or
 * undefined for 4-level/5-level paging. The parser has refused the
 * combinations no processor reaches (CR0.PG=1 with EFER.LME=1 and CR4.PAE=0).
 */
export function legacyMode(cpu: Pick<CpuState, "cr0" | "cr4" | "efer">): LegacyMode | undefined {
  if (!bit(cpu.cr0, CR0_PG)) return "none";
  if (!bit(cpu.cr4, CR4_PAE)) return "32-bit";
  if (!bit(cpu.efer, EFER_LME)) return "pae";
  return undefined;
}

// ---- PAE: the PDPTE registers (SDM 4.4.1) ----

/** The four PDPTE registers, loaded from the 32 bytes at CR3[31:5]. */
export interface PdpteRegisters {
  /** Physical address of the PDPT: CR3 bits 31:5 (bits 4:0 are ignored). */
  table: bigint;
  entries: [bigint, bigint, bigint, bigint];
}

/**
 * Reserved bits of a PDPTE (Table 4-8): 2:1, 8:5 and 63:MAXPHYADDR. A PDPTE
 * has no R/W, U/S, A or XD; bits 4:3 are PWT/PCD, 11:9 are ignored.
 */
export function pdpteReservedMask(maxphyaddr: number): bigint {
  return bits(2, 1) | bits(8, 5) | bits(63, maxphyaddr);
}

/** Loads the PDPTE registers from memory, as a MOV to CR3 (or a PGE-toggling MOV to CR4) does. */
export function loadPdptes(cpu: CpuState, mem: PhysicalMemory): PdpteRegisters {
  const table = cpu.cr3 & bits(31, 5);
  const e = [0, 1, 2, 3].map((i) => mem.read64(table + 8n * BigInt(i)));
  return { table, entries: [e[0]!, e[1]!, e[2]!, e[3]!] };
}

/**
 * The first present PDPTE register that sets a reserved bit, if any. SDM
 * 4.4.1: loading such a PDPTE makes the MOV to CR0/CR3/CR4 raise #GP(0); the
 * format reports that #GP for the access the load precedes. A not-present
 * PDPTE loads fine whatever its other bits.
 */
export function badPdpte(cpu: CpuState, regs: PdpteRegisters): number | undefined {
  const rsvd = pdpteReservedMask(cpu.maxphyaddr);
  const i = regs.entries.findIndex((e) => bit(e, P) && (e & rsvd) !== 0n);
  return i < 0 ? undefined : i;
}

/** A trace step for a PDPTE register that failed to load (the #GP's reason). */
export function badPdpteStep(cpu: CpuState, regs: PdpteRegisters, index: number): WalkStep {
  const entry = regs.entries[index]!;
  const which = entry & pdpteReservedMask(cpu.maxphyaddr);
  return {
    level: "PDPTE",
    table: regs.table,
    index,
    entryAddr: regs.table + 8n * BigInt(index),
    entry,
    allows: [],
    stop: `PDPTE register load: reserved bit set (mask 0x${which.toString(16)}; bits 2:1, 8:5, 63:${cpu.maxphyaddr}) raises #GP(0)`,
  };
}

// ---- The walks ----

export interface LegacyWalkInput {
  /** The linear address to translate (32 bits; any byte of the page). */
  va: bigint;
  op: Op;
  cpl: 0 | 3;
  /** EFLAGS.AC. */
  ac: boolean;
}

export type LegacyWalkOutcome =
  | { ok: true; pa: bigint; steps: WalkStep[] }
  | { ok: false; errorCode: bigint; steps: WalkStep[] };

/** What one entry lets through on its own, in the trace's words. */
function allows(entry: bigint, opts: { rights: boolean; xd: boolean; leaf?: string }): string[] {
  if (!bit(entry, P)) return [];
  const out: string[] = [];
  if (!opts.rights) out.push("W", "U", "X"); // a PDPTE restricts nothing (4.6.1)
  else {
    if (bit(entry, RW)) out.push("W");
    if (bit(entry, US)) out.push("U");
    if (!(opts.xd && bit(entry, XD))) out.push("X");
  }
  if (opts.leaf !== undefined) out.push(`leaf ${opts.leaf}`);
  return out;
}

/** One paging-structure entry of a legacy walk, its size and where it sits. */
interface Entry {
  addr: bigint;
  value: bigint;
  /** 4 bytes (32-bit paging) or 8 (PAE). */
  width: 4 | 8;
}

function readEntry(mem: PhysicalMemory, addr: bigint, width: 4 | 8): Entry {
  // A 4-byte entry is read from memory like any data: at an address that is
  // 4 mod 8 it is the high half of that qword (little-endian).
  return { addr, value: width === 4 ? mem.read(addr, 4) : mem.read64(addr), width };
}

function setFlags(mem: PhysicalMemory, e: Entry, flags: bigint): void {
  const updated = e.value | flags;
  if (updated !== e.value) mem.write(e.addr, e.width, updated);
}

/**
 * Translates `input.va` with 32-bit paging (SDM 4.3) or PAE paging (4.4),
 * reading the tables from `mem` and setting accessed/dirty flags there. For
 * PAE, `pdptes` are the registers loaded before the access (already checked
 * for reserved bits). Returns the physical address or the #PF error code.
 */
export function legacyWalk(
  cpu: CpuState,
  mem: PhysicalMemory,
  input: LegacyWalkInput,
  mode: "32-bit" | "pae",
  pdptes?: PdpteRegisters,
): LegacyWalkOutcome {
  const { op, ac } = input;
  const va = input.va & LINEAR_MASK_32;
  const user = input.cpl === 3;
  const write = op === "write";
  const fetch = op === "fetch";
  const pae = mode === "pae";

  const wp = bit(cpu.cr0, CR0_WP);
  const pse = bit(cpu.cr4, CR4_PSE);
  const smep = bit(cpu.cr4, CR4_SMEP);
  const smap = bit(cpu.cr4, CR4_SMAP);
  // EFER.NXE makes bit 63 XD only in PAE entries: 32-bit entries have no bit 63.
  const nxe = pae && bit(cpu.efer, EFER_NXE);
  const maxphyaddr = cpu.maxphyaddr;

  const steps: WalkStep[] = [];

  // 4.7: W/R and U/S describe the access; I/D is reported for a fetch only
  // when CR4.SMEP = 1, or with PAE paging when EFER.NXE = 1 (32-bit paging
  // has no execute-disable, so NXE alone does not set it).
  let accessBits = 0n;
  if (write) accessBits |= PF_W;
  if (user) accessBits |= PF_U;
  if (fetch && (smep || nxe)) accessBits |= PF_ID;
  const fault = (cause: bigint, why: string): LegacyWalkOutcome => {
    steps[steps.length - 1]!.stop = why;
    return { ok: false, errorCode: accessBits | cause, steps };
  };

  // Rights accumulated over the entries that give rights (4.6.1): the PDE and
  // the PTE; a PDPTE gives none.
  let rw = true;
  let us = true;
  let xd = false;
  const accumulate = (e: bigint): void => {
    rw &&= bit(e, RW);
    us &&= bit(e, US);
    xd ||= nxe && bit(e, XD);
  };

  let leaf: Entry;
  /** The frame's physical address and the number of offset bits (12, 21 or 22). */
  let frame: bigint;
  let offsetBits: number;

  if (!pae) {
    // ---- 32-bit paging (4.3): PDE index va[31:22], PTE index va[21:12], 4-byte entries ----
    const pdTable = cpu.cr3 & bits(31, 12);
    const pdIndex = Number(va >> 22n);
    const pde = readEntry(mem, pdTable + 4n * BigInt(pdIndex), 4);
    const big = pse && bit(pde.value, PS); // without CR4.PSE, PS is ignored
    steps.push({ level: "PDE", table: pdTable, index: pdIndex, entryAddr: pde.addr, entry: pde.value, allows: allows(pde.value, { rights: true, xd: false, leaf: big ? "4M" : undefined }) });
    if (!bit(pde.value, P)) return fault(0n, "not present");

    if (big) {
      // 4 MiB page (Table 4-4): bits 31:22 are physical-address bits 31:22;
      // with M = min(MAXPHYADDR, 40), bits (M-20):13 are address bits (M-1):32
      // (PSE-36) and bits 21:(M-19) are reserved. Bit 12 is PAT.
      const m = Math.min(maxphyaddr, 40);
      if ((pde.value & bits(21, m - 19)) !== 0n) {
        return fault(PF_P | PF_RSVD, `reserved bit set (4 MiB PDE bits 21:${m - 19}, above MAXPHYADDR ${maxphyaddr})`);
      }
      const high = (pde.value & bits(m - 20, 13)) >> 13n;
      frame = (pde.value & bits(31, 22)) | (high << 32n);
      offsetBits = 22;
      accumulate(pde.value);
      leaf = pde;
    } else {
      // The PDE references a page table (Table 4-5); it has no reserved bit.
      accumulate(pde.value);
      setFlags(mem, pde, 1n << BigInt(A));
      const ptTable = pde.value & bits(31, 12);
      const ptIndex = Number((va >> 12n) & 0x3ffn);
      const pte = readEntry(mem, ptTable + 4n * BigInt(ptIndex), 4);
      steps.push({ level: "PTE", table: ptTable, index: ptIndex, entryAddr: pte.addr, entry: pte.value, allows: allows(pte.value, { rights: true, xd: false, leaf: "4K" }) });
      if (!bit(pte.value, P)) return fault(0n, "not present");
      // A 32-bit PTE (Table 4-6) has no reserved bit; bit 7 is PAT.
      accumulate(pte.value);
      frame = pte.value & bits(31, 12);
      offsetBits = 12;
      leaf = pte;
    }
  } else {
    // ---- PAE paging (4.4): PDPTE va[31:30] (a register), PDE va[29:21], PTE va[20:12] ----
    const regs = pdptes!;
    const pdptIndex = Number(va >> 30n);
    const pdpte = regs.entries[pdptIndex]!;
    steps.push({ level: "PDPTE", table: regs.table, index: pdptIndex, entryAddr: regs.table + 8n * BigInt(pdptIndex), entry: pdpte, allows: allows(pdpte, { rights: false, xd: false }) });
    if (!bit(pdpte, P)) return fault(0n, "not present");

    // PDE and PTE (Tables 4-9..4-11): bits 62:MAXPHYADDR are reserved, and bit
    // 63 unless EFER.NXE = 1 (then it is XD).
    let rsvd = bits(62, maxphyaddr);
    if (!nxe) rsvd |= 1n << BigInt(XD);
    const address = bits(maxphyaddr - 1, 12);

    const pdTable = pdpte & address;
    const pdIndex = Number((va >> 21n) & 0x1ffn);
    const pde = readEntry(mem, pdTable + 8n * BigInt(pdIndex), 8);
    const big = bit(pde.value, PS); // CR4.PSE does not matter with PAE paging
    steps.push({ level: "PDE", table: pdTable, index: pdIndex, entryAddr: pde.addr, entry: pde.value, allows: allows(pde.value, { rights: true, xd: nxe, leaf: big ? "2M" : undefined }) });
    if (!bit(pde.value, P)) return fault(0n, "not present");
    if ((pde.value & rsvd) !== 0n) return fault(PF_P | PF_RSVD, `reserved bit set (PDE bits 62:${maxphyaddr}${nxe ? "" : ", or bit 63 with EFER.NXE = 0"})`);

    if (big) {
      // 2 MiB page (Table 4-9): bit 12 is PAT, bits 20:13 are reserved.
      if ((pde.value & bits(20, 13)) !== 0n) return fault(PF_P | PF_RSVD, "reserved bit set (2 MiB PDE bits 20:13)");
      accumulate(pde.value);
      frame = pde.value & bits(maxphyaddr - 1, 21);
      offsetBits = 21;
      leaf = pde;
    } else {
      accumulate(pde.value);
      setFlags(mem, pde, 1n << BigInt(A));
      const ptTable = pde.value & address;
      const ptIndex = Number((va >> 12n) & 0x1ffn);
      const pte = readEntry(mem, ptTable + 8n * BigInt(ptIndex), 8);
      steps.push({ level: "PTE", table: ptTable, index: ptIndex, entryAddr: pte.addr, entry: pte.value, allows: allows(pte.value, { rights: true, xd: nxe, leaf: "4K" }) });
      if (!bit(pte.value, P)) return fault(0n, "not present");
      if ((pte.value & rsvd) !== 0n) return fault(PF_P | PF_RSVD, `reserved bit set (PTE bits 62:${maxphyaddr}${nxe ? "" : ", or bit 63 with EFER.NXE = 0"})`);
      accumulate(pte.value);
      frame = pte.value & address;
      offsetBits = 12;
      leaf = pte;
    }
  }

  // ---- Access rights (4.6), the same rules as in every paging mode ----
  if (user && !us) return fault(PF_P, "user access to a supervisor page");
  if (fetch) {
    if (xd) return fault(PF_P, "execute-disable");
    if (!user && us && smep) return fault(PF_P, "SMEP: supervisor fetch from a user page");
  } else {
    if (!user && us && smap && !ac) return fault(PF_P, "SMAP: supervisor access to a user page with EFLAGS.AC = 0");
    // Writes need R/W = 1 in every entry, except supervisor writes with CR0.WP = 0.
    if (write && !rw && (user || wp)) return fault(PF_P, "write to a read-only page");
  }

  // ---- Accessed and dirty flags of the leaf (4.8), for an allowed access ----
  setFlags(mem, leaf, (1n << BigInt(A)) | (write ? 1n << BigInt(D) : 0n));

  return { ok: true, pa: frame | (va & bits(offsetBits - 1, 0)), steps };
}
