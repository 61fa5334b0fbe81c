/**
 * The paging-related state of one logical processor: CR0, CR3, CR4, EFER,
 * PKRU, IA32_PKRS and MAXPHYADDR, plus values derived from them once per
 * register write so that the walk and the TLB never recompute them.
 *
 * When several virtual CPUs share one frame store, this module and tlb.ts
 * (with the walk's results and the mailbox) are what each of them owns; the
 * plan is one wasm instance per vCPU, each in its own worker, importing one
 * shared memory (SharedArrayBuffer) that holds frames.ts's radix tree and
 * frames, with the allocator and the radix updates behind an atomic lock and
 * A/D updates as atomic ORs (as a processor does them). Cross-CPU TLB
 * shootdowns then become messages that call invlpg/invpcid on each vCPU.
 */

import {
  CR0_PG_BIT, CR0_WP_BIT, CR4_LA57_BIT, CR4_PCIDE_BIT, CR4_PKE_BIT, CR4_PKS_BIT,
  CR4_PGE_BIT, CR4_SMAP_BIT, CR4_SMEP_BIT, CR4_PAE_BIT, CR4_PSE_BIT, EFER_LMA_BIT, EFER_NXE_BIT,
  PTE_XD_BIT, PTE_ADDR_TOP_BIT,
} from "../src/arch/bits";
import { perCpu } from "./percpu";

export let cr0: u64 = 0;
export let cr3: u64 = 0;
export let cr4: u64 = 0;
export let efer: u64 = 0;
export let pkru: u32 = 0;
export let pkrs: u32 = 0;
export let maxPhyAddr: u32 = 52;

// ---- Derived state ----

/**
 * Paging mode (SDM table 4-1), as the number of levels a walk reads: 0 =
 * paging off (linear = physical), 2 = 32-bit paging (PDE, PTE), 3 = PAE
 * paging (PDPTE register, PDE, PTE), 4 = 4-level, 5 = 5-level.
 */
export let pagingLevels: i32 = 0;
export const MODE_OFF: i32 = 0;
export const MODE_32BIT: i32 = 2;
export const MODE_PAE: i32 = 3;
/**
 * Bits that are reserved in every 8-byte paging-structure entry: long mode
 * [51:MAXPHYADDR]; PAE [62:MAXPHYADDR]; XD when EFER.NXE=0. (32-bit paging's
 * 4-byte entries reserve nothing but in a 4 MiB PDE; see walk.ts.)
 */
export let rsvdMask: u64 = 0;
/** CR4.PSE: 32-bit paging maps 4 MiB pages with PS=1 in a PDE. */
export let pse: bool = false;
/** The frame-address field of an entry: bits [MAXPHYADDR-1:12]. */
export let addrMask: u64 = 0;
/** The PCID that tags new TLB entries (CR3[11:0] when CR4.PCIDE=1, else 0). */
export let pcid: u32 = 0;
export let wp: bool = false;
export let nxe: bool = false;
export let smep: bool = false;
export let smap: bool = false;
export let pke: bool = false;
export let pks: bool = false;
export let pge: bool = false;

/** Bits [51:12] of an entry (QEMU's PG_ADDRESS_MASK): where the next table or frame is. */
export const ENTRY_ADDR_MASK: u64 = (((1 as u64) << (PTE_ADDR_TOP_BIT + 1)) - 1) & ~(0xfff as u64);

@inline function bit(v: u64, n: i32): bool {
  return ((v >> n) & 1) != 0;
}

/** Recomputes everything derived from the registers. Callers flush the TLB as the SDM requires. */
export function deriveState(): void {
  const phys: u64 = ((1 as u64) << maxPhyAddr) - 1;
  addrMask = phys & ~(0xfff as u64);
  if (!bit(cr0, CR0_PG_BIT)) pagingLevels = MODE_OFF;
  else if (!bit(cr4, CR4_PAE_BIT)) pagingLevels = MODE_32BIT;
  else if (!bit(efer, EFER_LMA_BIT)) pagingLevels = MODE_PAE;
  else pagingLevels = bit(cr4, CR4_LA57_BIT) ? 5 : 4;
  const longMode = pagingLevels >= 4;
  nxe = bit(efer, EFER_NXE_BIT);
  // PAE entries reserve bits 62:52 too, which long mode ignores (SDM tables 4-8..4-11).
  const top: u64 = pagingLevels == MODE_PAE ? ((1 as u64) << 63) - 1 : ENTRY_ADDR_MASK | 0xfff;
  rsvdMask = top & ~phys & ~(0xfff as u64);
  if (!nxe) rsvdMask |= (1 as u64) << PTE_XD_BIT;
  wp = bit(cr0, CR0_WP_BIT);
  smep = bit(cr4, CR4_SMEP_BIT);
  smap = bit(cr4, CR4_SMAP_BIT);
  pse = bit(cr4, CR4_PSE_BIT);
  // Protection keys exist only with 4-level and 5-level paging (SDM 4.6.2).
  pke = longMode && bit(cr4, CR4_PKE_BIT);
  pks = longMode && bit(cr4, CR4_PKS_BIT);
  pge = bit(cr4, CR4_PGE_BIT);
  pcid = bit(cr4, CR4_PCIDE_BIT) ? (cr3 as u32) & 0xfff : 0;
  nestedRsvd = (ENTRY_ADDR_MASK & ~phys) | (hostNxe ? 0 : (1 as u64) << PTE_XD_BIT);
}

// ---- Nested paging (AMD SVM NPT, APM 15.25) ----

/** Nested paging is on: every guest-physical address goes through the host's tables at nCR3. */
export let nptOn: bool = false;
/** The nested root (host-physical), as the VMCB's N_CR3. */
export let ncr3: u64 = 0;
/** The host's EFER.NXE, which governs the nested tables' XD bit. */
export let hostNxe: bool = true;
/** The guest's ASID (1..127 under NPT; 0 is the host's): tags TLB entries. */
export let asid: u32 = 0;
/** Reserved bits of a nested entry: [51:MAXPHYADDR], and XD when the host's EFER.NXE=0. */
export let nestedRsvd: u64 = 0;

export function setNested(on: bool, root: u64, nx: bool, id: u32): void {
  nptOn = on;
  ncr3 = root;
  hostNxe = nx;
  asid = on ? id : 0;
  deriveState();
}

// ---- PAE: the four PDPTE registers (SDM 4.4.1) ----

/** PDPTE0..3 as last loaded from the 32-byte PDPT at CR3[31:5]. */
export const pdpte: usize = ASC_FEATURE_THREADS ? perCpu(32, 8) : memory.data(32, 8);

/** The bits a present PDPTE may not set: 2:1, 8:5 and 63:MAXPHYADDR. */
export function pdpteReserved(): u64 {
  return (0x1e6 as u64) | (~(((1 as u64) << maxPhyAddr) - 1));
}

export function setPdpte(i: u32, v: u64): void {
  store<u64>(pdpte + (i << 3), v);
}

@inline export function getPdpte(i: u32): u64 {
  return load<u64>(pdpte + (i << 3));
}

export function setRegisters(c0: u64, c3: u64, c4: u64, ef: u64): void {
  cr0 = c0;
  cr3 = c3;
  cr4 = c4;
  efer = ef;
  deriveState();
}

export function setCr3Value(c3: u64): void {
  cr3 = c3;
  deriveState();
}

export function setPkru(v: u32): void {
  pkru = v;
}

export function setPkrs(v: u32): void {
  pkrs = v;
}

export function setMaxPhyAddrValue(n: u32): void {
  maxPhyAddr = n;
  deriveState();
}
