/**
 * The words of a walk trace: level names, what an entry allows on its own,
 * and why a walk stopped. Used by the core engine's `run --trace` and by
 * `explain`; the reference walker keeps its own wording (it is an
 * independent model).
 */

import {
  PTE_P_BIT, PTE_RW_BIT, PTE_US_BIT, PTE_PS_BIT, PTE_XD_BIT, PTE_PK_SHIFT, PTE_ADDR_TOP_BIT, PTE_PAT_LARGE_BIT,
  PFEC_P, PFEC_RSVD, PFEC_PK, PFEC_W, PFEC_U, PFEC_ID,
  CR4_SMAP_BIT, CR4_SMEP_BIT, EFER_NXE_BIT,
  LEVEL_PT, LEVEL_PD, LEVEL_PDPT, LEVEL_PML4, LEVEL_PML5,
} from "../arch/bits.js";
import type { CpuState, Op } from "./types.js";

export const LEVEL_NAMES: Record<number, string> = {
  [LEVEL_PML5]: "PML5", [LEVEL_PML4]: "PML4", [LEVEL_PDPT]: "PDPT", [LEVEL_PD]: "PD", [LEVEL_PT]: "PT",
};

const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) !== 0n;

/** "4K", "2M" or "1G" when the entry at `level` is a present leaf, else undefined. */
export function leafSizeOf(level: number, entry: bigint): string | undefined {
  if (!bit(entry, PTE_P_BIT)) return undefined;
  if (level === LEVEL_PT) return "4K";
  if ((level === LEVEL_PD || level === LEVEL_PDPT) && bit(entry, PTE_PS_BIT)) return level === LEVEL_PD ? "2M" : "1G";
  return undefined;
}

/** What an entry allows on its own: "W", "U", "X" (fetches: XD clear or EFER.NXE=0), and "leaf 4K/2M/1G". */
export function allowsOf(entry: bigint, leafSize: string | undefined, nxe: boolean): string[] {
  if (!bit(entry, PTE_P_BIT)) return [];
  const a: string[] = [];
  if (bit(entry, PTE_RW_BIT)) a.push("W");
  if (bit(entry, PTE_US_BIT)) a.push("U");
  if (!(nxe && bit(entry, PTE_XD_BIT))) a.push("X");
  if (leafSize !== undefined) a.push(`leaf ${leafSize}`);
  return a;
}

/** Which reserved bits an entry sets, in words (for a RSVD fault). */
export function reservedBitsOf(level: number, entry: bigint, cpu: CpuState): string {
  const reasons: string[] = [];
  const phys = (1n << BigInt(cpu.maxphyaddr)) - 1n;
  const addrBits = ((1n << BigInt(PTE_ADDR_TOP_BIT + 1)) - 1n) & ~0xfffn;
  if ((entry & addrBits & ~phys) !== 0n) reasons.push(`address bits at or above MAXPHYADDR (${cpu.maxphyaddr})`);
  if (!bit(cpu.efer, EFER_NXE_BIT) && bit(entry, PTE_XD_BIT)) reasons.push("XD (bit 63) with EFER.NXE=0");
  if (level >= LEVEL_PML4 && bit(entry, PTE_PS_BIT)) reasons.push(`PS in a ${LEVEL_NAMES[level]}E`);
  const size = leafSizeOf(level, entry);
  if (size === "2M" || size === "1G") {
    const top = size === "2M" ? 20 : 29;
    const low = ((1n << BigInt(top + 1)) - 1n) & ~((1n << BigInt(PTE_PAT_LARGE_BIT + 1)) - 1n);
    if ((entry & low) !== 0n) reasons.push(`bits ${top}:13 of a ${size === "2M" ? "2 MiB" : "1 GiB"} page's frame address`);
  }
  return reasons.length ? `reserved bit set: ${reasons.join(", ")}` : "reserved bit set";
}

/**
 * Why an access with page-fault error code `code` stopped at the leaf whose
 * accumulated rights are `user`/`writable`/`xd` (SDM 4.6, in words).
 */
export function denialReason(code: number, cpu: CpuState, op: Op, cpl: number, ac: boolean, leaf: bigint, user: boolean, writable: boolean, xd: boolean): string {
  if ((code & PFEC_PK) !== 0) {
    const key = Number((leaf >> BigInt(PTE_PK_SHIFT)) & 0xfn);
    const reg = user ? "PKRU" : "IA32_PKRS";
    const rights = user ? cpu.pkru : cpu.pkrs;
    const ad = bit(rights, 2 * key);
    return ad ? `protection key ${key}: access disabled (${reg}.AD${key}=1)` : `protection key ${key}: write disabled (${reg}.WD${key}=1)`;
  }
  if (cpl === 3 && !user) return "user-mode access to a supervisor-mode page (U/S=0 in some entry)";
  if (op === "fetch") {
    if (xd) return "instruction fetch from an execute-disable page (XD=1 in some entry)";
    if (bit(cpu.cr4, CR4_SMEP_BIT) && user) return "SMEP: supervisor-mode fetch from a user-mode page";
  } else {
    if (cpl !== 3 && user && bit(cpu.cr4, CR4_SMAP_BIT) && !ac) return "SMAP: supervisor-mode data access to a user-mode page with EFLAGS.AC=0";
    if (op === "write" && !writable) {
      return cpl === 3 ? "user-mode write to a read-only page (R/W=0 in some entry)" : "supervisor-mode write to a read-only page with CR0.WP=1";
    }
  }
  return `access denied (error code 0x${code.toString(16)})`;
}

/** The error-code bits in words: "P W U RSVD I/D PK" for those set. */
export function errorCodeBits(code: number): string[] {
  const names: [number, string][] = [[PFEC_P, "P"], [PFEC_W, "W"], [PFEC_U, "U"], [PFEC_RSVD, "RSVD"], [PFEC_ID, "I/D"], [PFEC_PK, "PK"]];
  return names.filter(([b]) => (code & b) !== 0).map(([, n]) => n);
}

