/**
 * The paging registers as the Mmu holds them, and the checks a processor
 * makes before it accepts a value (the #GP conditions of MOV to CR0/CR3/CR4
 * and WRMSR IA32_EFER, SDM Vol. 3A 2.5 and 4.1.1). A refused value throws
 * RegisterError before anything changes.
 */

import {
  CR0_PE_BIT, CR0_PG_BIT, CR4_PAE_BIT, CR4_PCIDE_BIT, CR4_LA57_BIT, EFER_LME_BIT, EFER_LMA_BIT, MAXPHYADDR_MIN, MAXPHYADDR_MAX,
} from "../arch/index.js";
import { hex, show } from "../base/index.js";
import { RegisterError } from "../base/index.js";

/** The paging-related processor state. */
export interface CpuState {
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  /** PKRU (u32). */
  pkru?: number;
  /** IA32_PKRS (u32). */
  pkrs?: number;
  /** Physical-address width, 36..52 (default 52). */
  maxPhyAddr?: number;
}

/** Long mode with 4-level paging, WP and NXE: what most 64-bit kernels run with. */
export const LONG_MODE: Readonly<Pick<CpuState, "cr0" | "cr4" | "efer">> = {
  cr0: 0x80010033n, // PG | WP | NE | ET | MP | PE
  cr4: 0x20n, // PAE
  efer: 0xd00n, // NXE | LMA | LME
};

const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) !== 0n;

/** A u32 register value (PKRU, IA32_PKRS), or RegisterError. */
export const U32 = (v: number, what: string): number => {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RegisterError(`${what} ${show(v)} is not a u32`);
  return v;
};

/**
 * MAXPHYADDR `n` is an integer in 36..52 and leaves every frame that holds
 * data addressable (`ceilingPfn`: one past the highest frame ever backed).
 */
export function checkMaxPhyAddr(n: number, ceilingPfn: number): void {
  if (!Number.isInteger(n) || n < MAXPHYADDR_MIN || n > MAXPHYADDR_MAX) {
    throw new RegisterError(`MAXPHYADDR ${show(n)} is not an integer in ${MAXPHYADDR_MIN}..${MAXPHYADDR_MAX}`);
  }
  if (ceilingPfn > 2 ** (n - 12)) {
    throw new RegisterError(`MAXPHYADDR ${n} is too small: physical memory holds frames up to ${hex(BigInt(ceilingPfn - 1) << 12n)} (reset memory first)`);
  }
}


/** The paging mode the registers select (SDM table 4-1). */
export type PagingMode = "off" | "32-bit" | "pae" | "4-level" | "5-level";

export function pagingModeOf(s: Pick<CpuState, "cr0" | "cr4" | "efer">): PagingMode {
  if (!bit(s.cr0, CR0_PG_BIT)) return "off";
  if (!bit(s.cr4, CR4_PAE_BIT)) return "32-bit";
  if (!bit(s.efer, EFER_LMA_BIT)) return "pae";
  return bit(s.cr4, CR4_LA57_BIT) ? "5-level" : "4-level";
}

/** EFER with LMA as the processor reports it: CR0.PG AND EFER.LME (IA-32e mode active). */
export function withLma(cr0: bigint, efer: bigint): bigint {
  const lma = bit(cr0, CR0_PG_BIT) && bit(efer, EFER_LME_BIT);
  return lma ? efer | (1n << BigInt(EFER_LMA_BIT)) : efer & ~(1n << BigInt(EFER_LMA_BIT));
}

/**
 * The registers form a state a processor can be in (else RegisterError):
 * PG needs PE; PG with LME needs PAE (long mode); LMA is PG AND LME; outside
 * long mode CR4.PCIDE is 0 and, with paging on, CR3 has 32 bits; CR3 sets no
 * bit at or above MAXPHYADDR.
 */
export function checkMode(s: Required<CpuState>): void {
  const pg = bit(s.cr0, CR0_PG_BIT);
  const lme = bit(s.efer, EFER_LME_BIT);
  if (pg && !bit(s.cr0, CR0_PE_BIT)) throw new RegisterError("CR0.PG=1 needs CR0.PE=1");
  if (pg && lme && !bit(s.cr4, CR4_PAE_BIT)) throw new RegisterError("long mode (EFER.LME=1, CR0.PG=1) needs CR4.PAE=1");
  if (bit(s.efer, EFER_LMA_BIT) !== (pg && lme)) {
    throw new RegisterError(`EFER.LMA must be CR0.PG AND EFER.LME (${pg && lme ? 1 : 0}): it reports IA-32e mode, it is not a choice`);
  }
  const longMode = pg && lme;
  if (!longMode && bit(s.cr4, CR4_PCIDE_BIT)) throw new RegisterError("CR4.PCIDE=1 needs IA-32e mode (EFER.LMA=1)");
  if (pg && !longMode && s.cr3 >> 32n !== 0n) throw new RegisterError(`CR3 ${hex(s.cr3)} has bits above 31: outside long mode CR3 is a 32-bit register`);
  const phys = (1n << BigInt(s.maxPhyAddr)) - 1n;
  const cr3Reserved = s.cr3 & ~phys & ((1n << 63n) - 1n);
  if (cr3Reserved !== 0n) throw new RegisterError(`CR3 ${hex(s.cr3)} sets bits at or above MAXPHYADDR (${s.maxPhyAddr})`);
}

/** The error for a PDPTE with a reserved bit, met by a load under PAE paging (the instruction's #GP(0)). */
export function pdpteError(what: string, cr3: bigint): RegisterError {
  return new RegisterError(
    `${what}: a present PDPTE in the PDPT at ${hex(cr3 & 0xffffffe0n)} sets a reserved bit (2:1, 8:5 or 63:MAXPHYADDR), so loading the PDPTEs raises #GP(0); nothing changed`,
    "PDPTE_RESERVED",
  );
}

/** Nested paging (AMD SVM NPT) as the VMCB and the host give it: see Mmu.enterGuest. */
export interface NestedState {
  /** N_CR3: the root of the host's 4-level nested tables (host-physical). */
  ncr3: bigint;
  /** The host's EFER.NXE: bit 63 of a nested entry is XD (true, the default) or reserved. */
  nxe?: boolean;
  /** The guest's ASID, 1..127 (x86mmu reports NASID = 128); default 1. */
  asid?: number;
}

/** ASIDs x86mmu tags TLB entries with: 1..NASID-1 for guests (0 is the host's). */
export const NASID = 128;

/** Nested paging applies to a long-mode guest or one with paging off (legacy guest modes are not modelled under NPT). */
export function checkNestedGuest(s: Pick<CpuState, "cr0" | "cr4" | "efer">): void {
  const mode = pagingModeOf(s);
  if (mode === "32-bit" || mode === "pae") {
    throw new RegisterError(`nested paging with a ${mode} guest is not modelled: the guest must run in long mode or with paging off`);
  }
}
