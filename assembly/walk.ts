/**
 * The page walks of every paging mode — 32-bit (SDM 4.3), PAE (4.4), 4-level
 * and 5-level (4.5) — and the decision whether an access is allowed (4.6,
 * 4.7, 4.8). walk() picks the shape from the mode (state.ts pagingLevels).
 *
 * Read it top to bottom like the SDM's description: form the linear address's
 * indices, read one entry per level, check present and reserved bits, set the
 * accessed flag, accumulate the rights, descend until a leaf; then check the
 * access against the accumulated rights and the protection key, and either set
 * accessed/dirty on the leaf or build the page-fault error code.
 *
 * Where the SDM leaves a choice, we do what QEMU's TCG does (target/i386/tcg/
 * sysemu/excp_helper.c, mmu_translate), so that results compare side by side:
 *  - a non-leaf entry gets its accessed flag as soon as it is present and has
 *    no reserved bit set, even if the access later faults;
 *  - a PDPTE gets its accessed flag before PS and a 1 GiB frame's low bits are
 *    looked at, so a 1 GiB leaf has A set even by a faulting access;
 *  - a 2 MiB or 4 KiB leaf gets A (and D for a write) only if the access is
 *    allowed;
 *  - the protection key is checked before the paging rights, so PK is set
 *    whenever the key denies a data access, also when the rights deny it too;
 *    but a user access to a supervisor page faults first, without PK;
 *  - I/D is reported for a fetch only when EFER.NXE=1 or CR4.SMEP=1.
 * One difference from QEMU 7.2, where the SDM is explicit (4.7): a reserved-bit
 * fault has P set in its error code.
 *
 * The legacy walks (walk32, walkPae) follow the same choices: a PDE that
 * references a page table gets A as the walk passes it; a 4 KiB, 2 MiB or
 * 4 MiB leaf gets A/D only when the access is allowed; PAE's PDPTEs come from
 * the four registers loaded at MOV to CR3 (control.ts) and are never written.
 * accessDenied() and the rights cache serve every mode (protection keys are
 * off outside long mode: state.ts clears pke/pks there).
 *
 * Nested paging (AMD NPT) and Intel EPT join as a second, 4-level walk that
 * translates every guest-physical address this walk produces (each table
 * entry's and the final one) before it is read.
 */

import {
  ACCESS_FETCH, ACCESS_WRITE, ACCESS_OP_MASK, ACCESS_USER, ACCESS_AC,
  PTE_P_BIT, PTE_RW_BIT, PTE_US_BIT, PTE_A_BIT, PTE_D_BIT, PTE_PS_BIT, PTE_G_BIT,
  PTE_XD_BIT, PTE_PK_SHIFT, PFEC_P, PFEC_W, PFEC_U, PFEC_RSVD, PFEC_ID, PFEC_PK,
  PAGE_SHIFT, PAGE_SIZE, LEVEL_PT, LEVEL_PD, LEVEL_PDPT, LEVEL_PML4, LEVEL_PML5,
} from "../src/arch/bits";
import { perCpu } from "./percpu";
import { setFlags64, setFlags32 } from "./flags";
import { tableHost, frameHost, windowBase, windowFind, WINDOW_BYTES } from "./frames";
import { nestedWalk, nestedHpa, nestedWritable, nestedExecutable, setNestedTrace } from "./nested";
import { noteForced } from "./journal";
import { countEntry, countPscHit } from "./stats";
import { pdeSlot, pdeTag, pdeFill } from "./psc";
import {
  cr3, pcid, pagingLevels, rsvdMask, ENTRY_ADDR_MASK, nxe, wp, smep, smap, pke, pks, pge, pkru, pkrs, pse, maxPhyAddr,
  getPdpte, MODE_OFF, MODE_32BIT, MODE_PAE, nptOn,
} from "./state";

const P: u64 = (1 as u64) << PTE_P_BIT;
const RW: u64 = (1 as u64) << PTE_RW_BIT;
const US: u64 = (1 as u64) << PTE_US_BIT;
const A: u64 = (1 as u64) << PTE_A_BIT;
const D: u64 = (1 as u64) << PTE_D_BIT;
const PS: u64 = (1 as u64) << PTE_PS_BIT;
const G: u64 = (1 as u64) << PTE_G_BIT;
const XD: u64 = (1 as u64) << PTE_XD_BIT;

export const WALK_OK: i32 = 0;
export const WALK_PF: i32 = 1;
export const WALK_GP: i32 = 2;
/** A nested page fault (NPT): details in nested.ts's exitInfo1/exitInfo2. */
export const WALK_NPF: i32 = 3;

// ---- What the last walk found (read by the TLB fill and the host) ----

/** Physical address of the 4 KiB frame holding the translated byte. */
export let walkFrame: u64 = 0;
/** Level of the leaf: 1 = 4 KiB page (PTE), 2 = 2 MiB or 4 MiB (PDE), 3 = 1 GiB (PDPTE). */
export let walkLevel: i32 = 0;
/** The guest-physical 4 KiB frame under nested paging (walkFrame is then host-physical); walkFrame otherwise. */
export let walkGuestFrame: u64 = 0;
/** log2 of the leaf's page size: 12, 21, 22 (32-bit paging's 4 MiB) or 30. */
export let walkShift: u32 = 12;
/** Rights accumulated over the walk: user (U/S=1 everywhere), writable (R/W=1 everywhere), XD (in any entry). */
export let walkUser: bool = false;
export let walkWritable: bool = false;
export let walkXd: bool = false;
/** Protection key of the leaf (bits 62:59). */
export let walkPkey: u32 = 0;
/** The leaf is global (G=1 with CR4.PGE=1). */
export let walkGlobal: bool = false;
/** The leaf's dirty flag after the walk. */
export let walkDirty: bool = false;
/** The access kinds this translation allows without another walk (see rightsMask). */
export let walkAllow: u32 = 0;
/** The leaf entry's value after the walk. */
export let walkEntry: u64 = 0;
/** For a fault: the page-fault error code (0 for #GP) and the faulting linear address (CR2). */
export let faultCode: u32 = 0;
export let faultAddr: u64 = 0;

// ---- Walk trace, recorded only when traceOn (for `run --trace` and `explain`) ----
//
//   24 bytes per level visited, at most 10 (two walks) between traceReset() calls:
//   +0 u32 level  +4 u32 index  +8 u64 table address  +16 u64 entry value (as read)

export let traceOn: bool = false;
export let traceCount: u32 = 0;
export const traceBuf: usize = ASC_FEATURE_THREADS ? perCpu(10 * 24, 8) : memory.data(10 * 24, 8);

/** At most two walks (a page-crossing access) are recorded between resets. */
const TRACE_MAX: u32 = 10;

@inline function traceStep(level: i32, index: u32, table: u64, entry: u64): void {
  if (traceOn && traceCount < TRACE_MAX) {
    const t = traceBuf + traceCount * 24;
    store<u32>(t, level);
    store<u32>(t, index, 4);
    store<u64>(t, table, 8);
    store<u64>(t, entry, 16);
    traceCount++;
  }
}

export function setTrace(on: bool): void {
  traceOn = on;
  traceCount = 0;
}

export function traceReset(): void {
  traceCount = 0;
}

/**
 * Decides whether an access of kind `acc` (ACCESS_* bits) may use a page with
 * the accumulated rights (`user`, `writable`, `xd`) and protection key `pkey`.
 * Returns 0 when allowed, else the error-code bits that say why: PFEC_P, with
 * PFEC_PK when the key denied it. (SDM 4.6: access rights, 4.6.2: keys.)
 */
export function accessDenied(acc: u32, user: bool, writable: bool, xd: bool, pkey: u32): u32 {
  const op = acc & ACCESS_OP_MASK;
  const cpl3 = (acc & ACCESS_USER) != 0;

  // User-mode accesses (CPL 3) may touch only user-mode pages (4.6.1).
  if (cpl3 && !user) return PFEC_P;

  // Protection keys govern data accesses: PKRU for user-mode pages (CR4.PKE),
  // IA32_PKRS for supervisor-mode pages (CR4.PKS). AD forbids reads and writes;
  // WD forbids writes by user mode, and by supervisor mode when CR0.WP=1 (4.6.2).
  if (op != ACCESS_FETCH) {
    const rights = user ? (pke ? pkru : 0) : (pks ? pkrs : 0);
    const bits = (rights >> (pkey << 1)) & 3;
    if ((bits & 1) != 0) return PFEC_P | PFEC_PK;
    if ((bits & 2) != 0 && op == ACCESS_WRITE && (cpl3 || wp)) return PFEC_P | PFEC_PK;
  }

  if (op == ACCESS_FETCH) {
    // XD=1 in any entry forbids fetches (EFER.NXE=1); SMEP forbids supervisor
    // fetches from user-mode pages.
    if (xd) return PFEC_P;
    if (!cpl3 && smep && user) return PFEC_P;
  } else {
    // SMAP forbids supervisor data accesses to user-mode pages unless EFLAGS.AC=1.
    if (!cpl3 && smap && user && (acc & ACCESS_AC) == 0) return PFEC_P;
    // Writes need R/W=1 everywhere: always for user mode, with CR0.WP=1 for supervisor mode.
    if (op == ACCESS_WRITE && !writable && (cpl3 || wp)) return PFEC_P;
  }
  return 0;
}

// ---- Rights, cached per combination of page attributes ----
//
// Whether an access kind is allowed depends only on the accumulated U/S, R/W
// and XD, the leaf's D flag and protection key, and the registers: 256
// combinations, each a mask with bit (acc & 15) set for every access kind
// (op, CPL 3, EFLAGS.AC) allowed. A write is allowed only when D is already
// set, so that a TLB entry never lets a write skip setting D. Computed on
// first use after each register change.

const rightsTable: usize = ASC_FEATURE_THREADS ? perCpu(256 * 4, 16) : memory.data(256 * 4, 16);

/** Forgets the cached masks; call after any change to CR0, CR4, EFER, PKRU or IA32_PKRS. */
export function rightsReset(): void {
  memory.fill(rightsTable, 0, 256 * 4);
}

/** The write kinds of an allow mask: bits (acc & 15) whose op is ACCESS_WRITE. */
export const WRITE_KINDS: u32 = 0x2222;

@inline export function rightsMask(user: bool, writable: bool, xd: bool, dirty: bool, pkey: u32): u32 {
  const key = (user ? 1 : 0) | (writable ? 2 : 0) | (xd ? 4 : 0) | (dirty ? 8 : 0) | (pkey << 4);
  const v = load<u32>(rightsTable + (key << 2));
  return v != 0 ? v & 0xffff : rightsCompute(key, user, writable, xd, dirty, pkey);
}

function rightsCompute(key: u32, user: bool, writable: bool, xd: bool, dirty: bool, pkey: u32): u32 {
  const slot = rightsTable + (key << 2);
  let mask: u32 = 0;
  for (let acc: u32 = 0; acc < 16; acc++) {
    const op = acc & ACCESS_OP_MASK;
    if (op == 3) continue;
    if (op == ACCESS_WRITE && !dirty) continue;
    if (accessDenied(acc, user, writable, xd, pkey) == 0) mask |= 1 << acc;
  }
  store<u32>(slot, mask | 0x10000);
  return mask;
}

/** Records a fault and returns WALK_PF; `bits` is PFEC_P / PFEC_RSVD / PFEC_PK or 0 (not present). */
function pageFault(la: u64, acc: u32, bits: u32): i32 {
  const op = acc & ACCESS_OP_MASK;
  let code = bits;
  if (op == ACCESS_WRITE) code |= PFEC_W;
  if ((acc & ACCESS_USER) != 0) code |= PFEC_U;
  // I/D: with SMEP, or with EFER.NXE where entries have an XD bit (PAE, long mode; not 32-bit paging).
  if (op == ACCESS_FETCH && ((nxe && pagingLevels != MODE_32BIT) || smep)) code |= PFEC_ID;
  faultCode = code;
  faultAddr = la;
  return WALK_PF;
}

/** A nested page fault while translating `la` (nested.ts has EXITINFO1/2); faultAddr keeps `la`. */
function nestedFault(la: u64): i32 {
  faultCode = 0;
  faultAddr = la;
  return WALK_NPF;
}

/**
 * Stores an entry the walk updated (A or D set). The table frame's write is
 * noted for the dirty log and snapshots first; if memory runs out for that,
 * the flag is still set (the processor would) and snapshots are marked broken.
 */
@inline function setEntry(ptr: usize, value: u64, bits: u64): void {
  noteForced(ptr & ~((PAGE_SIZE - 1) as usize));
  setFlags64(ptr, value, bits);
}

/** True when `la` is canonical for the current paging mode (bits 63:47, or 63:56 with LA57, all equal). */
@inline export function isCanonical(la: u64): bool {
  const unused: u64 = pagingLevels == 5 ? 7 : 16;
  return (((la << unused) as i64) >> unused) as u64 == la;
}

/**
 * Translates linear address `la` for an access of kind `acc`. With `touch`,
 * sets accessed and dirty flags in memory as the processor does; without it
 * the walk changes nothing (a probe). Returns WALK_OK (results in walk*),
 * WALK_PF or WALK_GP (details in faultCode/faultAddr).
 */
export function walk(la: u64, acc: u32, touch: bool): i32 {

  // Outside long mode linear addresses have 32 bits (the access paths wrap
  // a page-crossing access at 4 GiB; a wider address is the caller's error).
  if (pagingLevels < 4 && la >> 32 != 0) {
    faultCode = 0;
    faultAddr = la;
    return WALK_GP;
  }
  if (pagingLevels == MODE_32BIT) return walk32(la, acc, touch);
  if (pagingLevels == MODE_PAE) return walkPae(la, acc, touch);

  // Paging off: linear addresses are physical (guest-physical under NPT).
  if (pagingLevels == MODE_OFF) {
    let pa = la;
    walkGuestFrame = la & ~((PAGE_SIZE - 1) as u64);
    if (nptOn) {
      if (traceOn) setNestedTrace(true, 0xffff);
      if (!nestedWalk(la, acc & ACCESS_OP_MASK, false, touch)) return nestedFault(la);
      pa = nestedHpa;
    }
    walkFrame = pa & ~((PAGE_SIZE - 1) as u64);
    walkLevel = LEVEL_PT;
    walkShift = PAGE_SHIFT;
    walkUser = true;
    walkWritable = true;
    walkXd = false;
    walkPkey = 0;
    walkGlobal = false;
    walkDirty = true;
    walkAllow = nptOn ? nestedAllow(rightsMask(true, true, false, true, 0)) : rightsMask(true, true, false, true, 0);
    return WALK_OK;
  }

  // A non-canonical address raises #GP(0) before any paging-structure access (3.3.7.1).
  if (!isCanonical(la)) {
    faultCode = 0;
    faultAddr = la;
    return WALK_GP;
  }

  const op = acc & ACCESS_OP_MASK;
  let table: u64 = cr3 & ENTRY_ADDR_MASK;
  let level: i32 = pagingLevels;
  let rights: u64 = RW | US; // AND of R/W and U/S over the walk
  let xd: u64 = 0; // OR of XD over the walk
  let entry: u64 = 0;
  let entryAddr: u64 = 0;
  let entryPtr: usize = 0;
  let shift: u64 = 0;

  while (true) {
    // Each level translates 9 bits of the address: PML5 56:48, PML4 47:39,
    // PDPT 38:30, PD 29:21, PT 20:12.
    shift = (PAGE_SHIFT + 9 * (level - 1)) as u64;
    const index = ((la >> shift) as u32) & 511;
    entryAddr = table + ((index as u64) << 3);
    let host: usize;
    if (nptOn) {
      // Under NPT the table is guest-physical: the entry's own address goes
      // through the nested tables first, as a user write (APM 15.25.5).
      if (traceOn) setNestedTrace(true, traceCount);
      if (!nestedWalk(entryAddr, ACCESS_WRITE, true, touch)) return nestedFault(la);
      host = frameHost(nestedHpa >> PAGE_SHIFT);
      entryPtr = host + ((nestedHpa as usize) & (PAGE_SIZE - 1));
    } else {
      host = tableHost(table >> PAGE_SHIFT, level);
      entryPtr = host + (index << 3);
    }
    entry = host == 0 ? 0 : load<u64>(entryPtr);
    countEntry();
    traceStep(level, index, table, entry);

    // Not present: the walk stops, P=0 in the error code.
    if ((entry & P) == 0) return pageFault(la, acc, 0);

    // Reserved bits: [51:MAXPHYADDR] at every level, XD when EFER.NXE=0, and
    // PS in a PML5E or PML4E.
    let reserved = rsvdMask;
    if (level >= LEVEL_PML4) reserved |= PS;
    if ((entry & reserved) != 0) return pageFault(la, acc, PFEC_RSVD | PFEC_P);

    const leaf = level == LEVEL_PT || (level <= LEVEL_PDPT && (entry & PS) != 0);

    // Accessed flag of a table-referencing entry, and of a PDPTE even when it
    // maps a 1 GiB page (QEMU sets it before looking at PS).
    // (A present entry lives in a frame with storage: host is not 0 here.)
    if (touch && (!leaf || level == LEVEL_PDPT) && (entry & A) == 0) {
      entry |= A;
      setEntry(entryPtr, entry, A);
    }

    rights &= entry;
    xd |= entry & XD;

    if (leaf) {
      // A large page's frame address starts at bit 21 (2 MiB) or 30 (1 GiB);
      // the bits between the PAT bit (12) and there are reserved.
      if (level > LEVEL_PT) {
        const low: u64 = (((1 as u64) << shift) - 1) & ~((2 * PAGE_SIZE - 1) as u64);
        if ((entry & low) != 0) return pageFault(la, acc, PFEC_RSVD | PFEC_P);
      }
      break;
    }
    table = entry & ENTRY_ADDR_MASK;
    level--;
  }

  const user = (rights & US) != 0;
  const writable = (rights & RW) != 0;
  const pkey = ((entry >> PTE_PK_SHIFT) as u32) & 15;
  const denied = accessDenied(acc, user, writable, xd != 0, pkey);
  if (denied != 0) return pageFault(la, acc, denied);

  // The access is allowed: the leaf gets A, and D for a write.
  if (touch) {
    let updated = entry | A;
    if (op == ACCESS_WRITE) updated |= D;
    if (updated != entry) {
      const added = updated ^ entry;
      entry = updated;
      setEntry(entryPtr, entry, added);
    }
  }

  const pageMask: u64 = ((1 as u64) << shift) - 1;
  walkFrame = (entry & ENTRY_ADDR_MASK & ~pageMask) | (la & pageMask & ~((PAGE_SIZE - 1) as u64));
  walkGuestFrame = walkFrame;
  walkAllow = rightsMask(user, writable, xd != 0, (entry & D) != 0, pkey);
  if (nptOn) {
    // The final guest-physical address, with the access's own type (the
    // guest's A/D above stay set if this faults).
    const gpa = walkFrame | (la & (PAGE_SIZE - 1));
    if (traceOn) setNestedTrace(true, 0xffff);
    if (!nestedWalk(gpa, op, false, touch)) return nestedFault(la);
    walkFrame = nestedHpa & ~((PAGE_SIZE - 1) as u64);
    walkAllow = nestedAllow(walkAllow);
  }
  walkLevel = level;
  walkShift = shift as u32;
  walkUser = user;
  walkWritable = writable;
  walkXd = xd != 0;
  walkPkey = pkey;
  walkGlobal = pge && (entry & G) != 0;
  walkDirty = (entry & D) != 0;
  walkEntry = entry;
  return WALK_OK;
}

/** The fetch kinds of an allow mask: bits (acc & 15) whose op is ACCESS_FETCH. */
const FETCH_KINDS: u32 = 0x4444;

/**
 * The access kinds allowed by both the guest (`allow`) and the nested leaf
 * the last nested walk found: writes only once it is writable and dirty (so
 * a TLB hit never skips setting nested D), fetches only without nested XD.
 */
@inline function nestedAllow(allow: u32): u32 {
  if (!nestedWritable) allow &= ~WRITE_KINDS;
  if (!nestedExecutable) allow &= ~FETCH_KINDS;
  return allow;
}

// ---- 32-bit paging (SDM 4.3) ----
//
//   linear address:  | 31 .. 22 | 21 .. 12 | 11 .. 0 |     4 MiB page (PDE.PS=1, CR4.PSE=1):
//                       PDE idx    PTE idx    offset         | 31 .. 22 | 21 ....... 0 |
//
// Entries are 4 bytes; the page directory is at CR3[31:12]. No bit of a PDE
// or PTE is reserved except in a 4 MiB PDE: its bits 20:13 carry physical-
// address bits 39:32 (PSE-36), of which those at or above M = min(MAXPHYADDR,
// 40) are reserved, with bit 21. There is no XD bit and no protection key.

function walk32(la: u64, acc: u32, touch: bool): i32 {
  let table: u64 = cr3 & 0xfffff000;
  let index = ((la >> 22) as u32) & 1023;
  let host = tableHost(table >> PAGE_SHIFT, LEVEL_PD);
  let ptr = host + (index << 2);
  let pde: u64 = host == 0 ? 0 : load<u32>(ptr) as u64;
  countEntry();
  traceStep(LEVEL_PD, index, table, pde);
  if ((pde & P) == 0) return pageFault(la, acc, 0);

  if (pse && (pde & PS) != 0) {
    const m: u32 = min(maxPhyAddr, 40);
    const reserved: u64 = (((1 as u64) << 22) - 1) & ~(((1 as u64) << (m - 19)) - 1);
    if ((pde & reserved) != 0) return pageFault(la, acc, PFEC_RSVD | PFEC_P);
    const high: u64 = (pde >> 13) & (((1 as u64) << (m - 32)) - 1);
    return leafReached(la, acc, touch, pde, ptr, false, LEVEL_PD, pde, 0, (high << 32) | (pde & 0xffc00000), 22);
  }

  // The PDE references a page table: it gets A as the walk passes it.
  if (touch && (pde & A) == 0) {
    pde |= A;
    noteForced(ptr & ~((PAGE_SIZE - 1) as usize));
    setFlags32(ptr, pde as u32, A as u32);
  }
  table = pde & 0xfffff000;
  index = ((la >> PAGE_SHIFT) as u32) & 1023;
  host = tableHost(table >> PAGE_SHIFT, LEVEL_PT);
  ptr = host + (index << 2);
  const pte: u64 = host == 0 ? 0 : load<u32>(ptr) as u64;
  countEntry();
  traceStep(LEVEL_PT, index, table, pte);
  if ((pte & P) == 0) return pageFault(la, acc, 0);
  return leafReached(la, acc, touch, pte, ptr, false, LEVEL_PT, pde & pte, 0, pte & 0xfffff000, PAGE_SHIFT);
}

// ---- PAE paging (SDM 4.4) ----
//
//   linear address:  | 31 30 | 29 .. 21 | 20 .. 12 | 11 .. 0 |
//                      PDPTE   PDE idx    PTE idx    offset
//
// The PDPTE comes from the four registers loaded at MOV to CR3; it gives no
// access rights and is never written. PDEs and PTEs are 8 bytes with
// reserved bits 62:MAXPHYADDR, and XD (bit 63) when EFER.NXE=0.

function walkPae(la: u64, acc: u32, touch: bool): i32 {
  const slot = ((la >> 30) as u32) & 3;
  const pdpte = getPdpte(slot);
  traceStep(LEVEL_PDPT, slot, cr3 & 0xffffffe0, pdpte);
  if ((pdpte & P) == 0) return pageFault(la, acc, 0);

  let table: u64 = pdpte & ENTRY_ADDR_MASK;
  let index = ((la >> 21) as u32) & 511;
  let host = tableHost(table >> PAGE_SHIFT, LEVEL_PD);
  let ptr = host + (index << 3);
  let pde: u64 = host == 0 ? 0 : load<u64>(ptr);
  countEntry();
  traceStep(LEVEL_PD, index, table, pde);
  if ((pde & P) == 0) return pageFault(la, acc, 0);
  if ((pde & rsvdMask) != 0) return pageFault(la, acc, PFEC_RSVD | PFEC_P);

  if ((pde & PS) != 0) {
    // A 2 MiB page: bits 20:13 of its frame address are reserved.
    if ((pde & 0x1fe000) != 0) return pageFault(la, acc, PFEC_RSVD | PFEC_P);
    return leafReached(la, acc, touch, pde, ptr, true, LEVEL_PD, pde, pde & XD, pde & ENTRY_ADDR_MASK & ~(0x1fffff as u64), 21);
  }

  if (touch && (pde & A) == 0) {
    pde |= A;
    setEntry(ptr, pde, A);
  }
  table = pde & ENTRY_ADDR_MASK;
  index = ((la >> PAGE_SHIFT) as u32) & 511;
  host = tableHost(table >> PAGE_SHIFT, LEVEL_PT);
  ptr = host + (index << 3);
  const pte: u64 = host == 0 ? 0 : load<u64>(ptr);
  countEntry();
  traceStep(LEVEL_PT, index, table, pte);
  if ((pte & P) == 0) return pageFault(la, acc, 0);
  if ((pte & rsvdMask) != 0) return pageFault(la, acc, PFEC_RSVD | PFEC_P);
  return leafReached(la, acc, touch, pte, ptr, true, LEVEL_PT, pde & pte, (pde | pte) & XD, pte & ENTRY_ADDR_MASK, PAGE_SHIFT);
}

/**
 * The end of a legacy walk: the leaf `entry` (stored at `ptr`, 8 bytes wide
 * or 4) maps the page at physical `base` of 2^`shift` bytes with the rights
 * ANDed in `rights` (R/W, U/S) and XD ORed in `xd`. Checks the access, sets
 * A (and D for a write) when it is allowed, and records the results.
 */
function leafReached(la: u64, acc: u32, touch: bool, entry: u64, ptr: usize, wide: bool, level: i32, rights: u64, xd: u64, base: u64, shift: u32): i32 {
  const user = (rights & US) != 0;
  const writable = (rights & RW) != 0;
  const denied = accessDenied(acc, user, writable, xd != 0, 0);
  if (denied != 0) return pageFault(la, acc, denied);
  if (touch) {
    let updated = entry | A;
    if ((acc & ACCESS_OP_MASK) == ACCESS_WRITE) updated |= D;
    if (updated != entry) {
      const added = updated ^ entry;
      entry = updated;
      noteForced(ptr & ~((PAGE_SIZE - 1) as usize));
      if (wide) setFlags64(ptr, entry, added);
      else setFlags32(ptr, entry as u32, added as u32);
    }
  }
  const pageMask: u64 = ((1 as u64) << shift) - 1;
  walkFrame = base | (la & pageMask & ~((PAGE_SIZE - 1) as u64));
  walkGuestFrame = walkFrame;
  walkLevel = level;
  walkShift = shift;
  walkUser = user;
  walkWritable = writable;
  walkXd = xd != 0;
  walkPkey = 0;
  walkGlobal = pge && (entry & G) != 0;
  walkDirty = (entry & D) != 0;
  walkEntry = entry;
  walkAllow = rightsMask(user, writable, xd != 0, walkDirty, 0);
  return WALK_OK;
}

export const WALK_SLOW: i32 = -1;

/** Where fastEntry found its entry (for the A/D store). */
let fastPtr: usize = 0;

/** The entry for `la` at `level` in the table at physical `table`; 0 (not present) when the table has no storage. */
@inline function fastEntry(table: u64, la: u64, level: i32): u64 {
  const index = (((la >> ((PAGE_SHIFT + 9 * (level - 1)) as u64)) as u32) & 511) << 3;
  if (table < WINDOW_BYTES) {
    // The low window: one load, as from a flat array (frames.ts).
    countEntry();
    if (windowBase == 0 && windowFind() == 0) return 0;
    fastPtr = windowBase + (table as usize) + index;
    return load<u64>(fastPtr);
  }
  const host = tableHost(table >> PAGE_SHIFT, level);
  countEntry();
  if (host == 0) return 0;
  fastPtr = host + index;
  return load<u64>(fastPtr);
}

/**
 * The same walk for the common case only, unrolled: every entry present, no
 * reserved bit, the accessed flags of the table-referencing entries already
 * set (and of a PDPTE mapping 1 GiB), the access allowed. On anything else it
 * returns WALK_SLOW having changed nothing, and the caller runs walk(), which
 * decides the case by the rules above. Sets A (and D for a write) on the
 * leaf like walk().
 */
export function walkFast(la: u64, acc: u32): i32 {
  if (traceOn || nptOn || pagingLevels < 4 || !isCanonical(la)) return WALK_SLOW;
  const expect: u64 = P | A;
  const upper: u64 = rsvdMask | PS | expect; // PML5E, PML4E: PS is reserved
  const middle: u64 = rsvdMask | expect; // PDPTE, PDE
  let rights: u64 = RW | US | XD; // XD inverted: ANDed over the walk, flipped at the end
  let table: u64 = cr3 & ENTRY_ADDR_MASK;
  let e: u64;
  let level = LEVEL_PDPT;
  // The PDE cache (psc.ts): the page table and the upper levels' rights, one entry read.
  const ps = pdeSlot(la);
  if (load<u64>(ps) == pdeTag(la, pcid as u64)) {
    const t = load<u64>(ps, 8);
    countPscHit();
    rights = (t & (RW | US)) | ((t & 1) != 0 ? 0 : XD);
    e = fastEntry(t & ENTRY_ADDR_MASK, la, LEVEL_PT);
    level = LEVEL_PT;
    if ((e & (rsvdMask | P)) != P) return WALK_SLOW;
    rights &= e ^ XD;
    return fastLeaf(la, acc, e, level, rights);
  }
  if (pagingLevels == 5) {
    e = fastEntry(table, la, LEVEL_PML5);
    if ((e & upper) != expect) return WALK_SLOW;
    rights &= e ^ XD;
    table = e & ENTRY_ADDR_MASK;
  }
  e = fastEntry(table, la, LEVEL_PML4);
  if ((e & upper) != expect) return WALK_SLOW;
  rights &= e ^ XD;
  e = fastEntry(e & ENTRY_ADDR_MASK, la, LEVEL_PDPT);
  if ((e & middle) != expect) return WALK_SLOW;
  rights &= e ^ XD;
  if ((e & PS) == 0) {
    e = fastEntry(e & ENTRY_ADDR_MASK, la, LEVEL_PD);
    level = LEVEL_PD;
    if ((e & PS) == 0) {
      if ((e & middle) != expect) return WALK_SLOW;
      rights &= e ^ XD;
      // Every upper entry is present, accessed and free of reserved bits: cache the page table.
      pdeFill(la, pcid as u64, e & ENTRY_ADDR_MASK, (rights & (RW | US)) | ((rights & XD) == 0 ? 1 : 0));
      e = fastEntry(e & ENTRY_ADDR_MASK, la, LEVEL_PT);
      level = LEVEL_PT;
    }
    // A 2 MiB or 4 KiB leaf may lack A: it is set below, once the access is allowed.
    if ((e & (rsvdMask | P)) != P) return WALK_SLOW;
    rights &= e ^ XD;
  }
  return fastLeaf(la, acc, e, level, rights);
}

/** The end of walkFast: checks the leaf `e` at `level` with the walk's `rights` (XD inverted), sets A/D, records the result. */
@inline function fastLeaf(la: u64, acc: u32, e: u64, level: i32, rights: u64): i32 {
  const shift = (PAGE_SHIFT + 9 * (level - 1)) as u64;
  const pageMask: u64 = ((1 as u64) << shift) - 1;
  if (level > LEVEL_PT && (e & pageMask & ~((2 * PAGE_SIZE - 1) as u64)) != 0) return WALK_SLOW;

  const user = (rights & US) != 0;
  const writable = (rights & RW) != 0;
  const xd = (rights & XD) == 0;
  const pkey = ((e >> PTE_PK_SHIFT) as u32) & 15;
  // Allowed as if dirty: a write sets D below.
  const allow = rightsMask(user, writable, xd, true, pkey);
  if (((allow >> (acc & 15)) & 1) == 0) return WALK_SLOW;
  let updated = e | A;
  if ((acc & ACCESS_OP_MASK) == ACCESS_WRITE) updated |= D;
  if (updated != e) {
    const added = updated ^ e;
    e = updated;
    setEntry(fastPtr, e, added);
  }
  walkFrame = (e & ENTRY_ADDR_MASK & ~pageMask) | (la & pageMask & ~((PAGE_SIZE - 1) as u64));
  walkLevel = level;
  walkShift = shift as u32;
  walkGlobal = pge && (e & G) != 0;
  walkDirty = (e & D) != 0;
  walkAllow = walkDirty ? allow : allow & ~WRITE_KINDS;
  return WALK_OK;
}

/** missFast's mode conditions: no trace, no nested paging, 4- or 5-level paging (a batch checks them once per run). */
@inline export function missFastApplies(): bool {
  return !traceOn && !nptOn && pagingLevels >= 4;
}

/**
 * The commonest TLB miss, for the batch loops (issue 12): long mode, no
 * trace, no nested paging, a 4 KiB page whose every entry is present, free
 * of reserved bits and accessed (the PTE dirty too, for a write), the access
 * allowed; or the same for a 2 MiB page. The caller has checked
 * missFastApplies() (once per run of misses) and that `la` is canonical.
 * The PDE cache (psc.ts) gives the
 * page table when it has it (one entry read), else the upper levels are read
 * and the PDE cache filled (for a page table, not a 2 MiB page).
 * Nothing is written to memory and nothing counted: it returns the number of
 * entries read (1 means a PDE-cache hit) with the result in walkFastFrame /
 * walkFastAllow / walkFastGlobal, and the caller counts in locals and fills
 * the TLB (no call, no counter in memory per address). Returns 0, having
 * changed nothing, on anything else (a large page, an A or D flag to set, a
 * fault): the caller then takes lookup(), which decides the case by the full
 * rules, so every rule stays stated once, in walk().
 */
@inline export function missFast(la: u64, acc: u32): u32 {
  const expect: u64 = P | A;
  const ps = pdeSlot(la);
  const tag = pdeTag(la, pcid as u64);
  let t: u64; // the upper levels' rights as the PDE cache keeps them: bit 1 R/W, bit 2 U/S (ANDed), bit 0 XD (ORed)
  let read: u32 = 1;
  const hit = load<u64>(ps) == tag;
  if (hit) {
    t = load<u64>(ps, 8);
  } else {
    const upper: u64 = rsvdMask | PS | expect; // PML5E, PML4E: PS is reserved; PDPTE, PDE: a large page is left to walk()
    let table: u64 = cr3 & ENTRY_ADDR_MASK;
    let rights: u64 = RW | US | XD; // XD inverted: ANDed, flipped at the end
    let e: u64;
    if (pagingLevels == 5) {
      e = quickEntry(table, la, LEVEL_PML5);
      if ((e & upper) != expect) return 0;
      rights &= e ^ XD;
      table = e & ENTRY_ADDR_MASK;
      read++;
    }
    e = quickEntry(table, la, LEVEL_PML4);
    if ((e & upper) != expect) return 0;
    rights &= e ^ XD;
    e = quickEntry(e & ENTRY_ADDR_MASK, la, LEVEL_PDPT);
    if ((e & upper) != expect) return 0;
    rights &= e ^ XD;
    e = quickEntry(e & ENTRY_ADDR_MASK, la, LEVEL_PD);
    if ((e & PS) != 0) return missLarge(la, acc, e, rights, read + 2); // PML4E, PDPTE, PDE (read counted the PTE)
    if ((e & upper) != expect) return 0;
    rights &= e ^ XD;
    read += 3;
    t = (e & ENTRY_ADDR_MASK) | (rights & (RW | US)) | ((rights & XD) == 0 ? 1 : 0);
  }
  const e = quickEntry(t & ENTRY_ADDR_MASK, la, LEVEL_PT);
  const allow = pteAllow(t, e, acc);
  if (allow == 0) return 0;
  if (!hit) pdeFill(la, pcid as u64, t & ENTRY_ADDR_MASK, t & 7);
  walkFastFrame = e & ENTRY_ADDR_MASK;
  walkFastAllow = allow;
  walkFastGlobal = pge && (e & G) != 0;
  walkFastLevel = LEVEL_PT;
  walkFastShift = PAGE_SHIFT;
  return read;
}

/**
 * missFast's 2 MiB page: the PDE `e` is the leaf (PS=1), `rights` those of
 * the levels above (XD inverted). Present, accessed (dirty for a write), no
 * reserved bit (bits 20:13 included), the access allowed; else 0.
 */
@inline function missLarge(la: u64, acc: u32, e: u64, rights: u64, read: u32): u32 {
  const need: u64 = (acc & ACCESS_OP_MASK) == ACCESS_WRITE ? P | A | D : P | A;
  const largeReserved: u64 = 0x1fe000; // bits 20:13 of a 2 MiB PDE (bit 12 is PAT)
  if ((e & (rsvdMask | largeReserved | need)) != need) return 0;
  rights &= e ^ XD;
  const all = rightsMask((rights & US) != 0, (rights & RW) != 0, (rights & XD) == 0, true, ((e >> PTE_PK_SHIFT) as u32) & 15);
  const allow = (e & D) != 0 ? all : all & ~WRITE_KINDS;
  if (((allow >> (acc & 15)) & 1) == 0) return 0;
  walkFastFrame = (e & ENTRY_ADDR_MASK & ~(0x1fffff as u64)) | (la & (0x1ff000 as u64));
  walkFastAllow = allow;
  walkFastGlobal = pge && (e & G) != 0;
  walkFastLevel = LEVEL_PD;
  walkFastShift = PAGE_SHIFT + 9;
  return read;
}

/** The most addresses missFastLanes takes at once. */
export const LANES: u32 = 8;

/**
 * missFast for up to LANES addresses at once, those whose page tables the
 * PDE cache holds (in the low window): their PTE loads are issued together,
 * so their cache misses overlap, where walks in turn would each wait for
 * the last. The caller guarantees missFastApplies(), `n` canonical, in-page
 * addresses at `p` whose TLB slots differ. Returns how many, from the
 * first, were finished this way (their results in laneOut); it stops at the
 * first address whose page table is not cached or whose PTE fails missFast's
 * checks. The rest are left to missFast one by one, in order, so nothing a
 * later one reads can have been changed by an earlier one.
 */
export function missFastLanes(p: usize, n: u32, acc: u32): u32 {
  const ctx = pcid as u64;
  const base = windowBase != 0 ? windowBase : windowFind();
  if (base == 0) return 0;
  // The leading addresses whose page table the PDE cache holds, in the window (m of them).
  let m: u32 = 0;
  while (m < n) {
    const t = pdeTable(load<u64>(p + ((m as usize) << 3)), ctx);
    if (t == NO_TABLE) break;
    store<u64>(laneTable + ((m as usize) << 3), t);
    m++;
  }
  // Their PTE loads, back to back: no load waits for another.
  for (let i: usize = 0; i < (m as usize); i++) store<u64>(laneOut + (i << 3), pteOf(base, load<u64>(laneTable + (i << 3)), load<u64>(p + (i << 3))));
  // missFast's checks, in order.
  for (let i: u32 = 0; i < m; i++) if (!pteDone(i, load<u64>(laneTable + ((i as usize) << 3)), load<u64>(laneOut + ((i as usize) << 3)), acc)) return i;
  return m;
}

const NO_TABLE: u64 = 0xffffffffffffffff;

/** The PDE cache's entry for `la` (page table and rights) when it holds one in the low window; else NO_TABLE. */
@inline function pdeTable(la: u64, ctx: u64): u64 {
  const s = pdeSlot(la);
  if (load<u64>(s) != pdeTag(la, ctx)) return NO_TABLE;
  const t = load<u64>(s, 8);
  return (t & ENTRY_ADDR_MASK) < WINDOW_BYTES ? t : NO_TABLE;
}

/** Whether the PDE cache holds `la`'s page table (batch loops ask before taking several at a time). */
@inline export function pdeHolds(la: u64): bool {
  return load<u64>(pdeSlot(la)) == pdeTag(la, pcid as u64);
}

@inline function pteOf(base: usize, t: u64, la: u64): u64 {
  return load<u64>(base + ((t & ENTRY_ADDR_MASK) as usize) + ((((la >> PAGE_SHIFT) as usize) & 511) << 3));
}

/** missFastLanes' results: lane i's frame at +8i, allowed kinds at +8L+4i, global at +12L+i (L = LANES); its PTEs at +8i before that. */
export const laneOut: usize = ASC_FEATURE_THREADS ? perCpu(LANES * 13, 8) : memory.data(LANES * 13, 8);
/** missFastLanes' page tables (with the PDE cache's rights), lane i at +8i. */
const laneTable: usize = ASC_FEATURE_THREADS ? perCpu(LANES * 8, 8) : memory.data(LANES * 8, 8);

/**
 * missFast's checks of a PTE `e` under the upper levels' rights `t` (as the
 * PDE cache keeps them): present, accessed (dirty for a write), no reserved
 * bit, and the access allowed. Returns the access kinds it allows, or 0 when
 * a check fails (the access itself is then not among them).
 */
@inline function pteAllow(t: u64, e: u64, acc: u32): u32 {
  const need: u64 = (acc & ACCESS_OP_MASK) == ACCESS_WRITE ? P | A | D : P | A;
  if ((e & (rsvdMask | need)) != need) return 0;
  const all = rightsMask((t & e & US) != 0, (t & e & RW) != 0, (t & 1) != 0 || (e & XD) != 0, true, ((e >> PTE_PK_SHIFT) as u32) & 15);
  const allow = (e & D) != 0 ? all : all & ~WRITE_KINDS;
  return ((allow >> (acc & 15)) & 1) == 0 ? 0 : allow;
}

/** pteAllow for lane `i` of missFastLanes; on success records its result. */
@inline function pteDone(i: u32, t: u64, e: u64, acc: u32): bool {
  const allow = pteAllow(t, e, acc);
  if (allow == 0) return false;
  store<u64>(laneOut + ((i as usize) << 3), e & ENTRY_ADDR_MASK);
  store<u32>(laneOut + LANES * 8 + ((i as usize) << 2), allow);
  store<u8>(laneOut + LANES * 12 + (i as usize), pge && (e & G) != 0 ? 1 : 0);
  return true;
}

/** missFast's result, read by its caller right away. */
export let walkFastFrame: u64 = 0;
export let walkFastAllow: u32 = 0;
export let walkFastGlobal: bool = false;
export let walkFastLevel: i32 = LEVEL_PT;
export let walkFastShift: u32 = PAGE_SHIFT;

/** The entry for `la` at `level` in the table at physical `table`, read without side effects; 0 (not present) when the table has no storage. */
@inline function quickEntry(table: u64, la: u64, level: i32): u64 {
  const index = (((la >> ((PAGE_SHIFT + 9 * (level - 1)) as u64)) as usize) & 511) << 3;
  if (table < WINDOW_BYTES) return windowBase == 0 && windowFind() == 0 ? 0 : load<u64>(windowBase + (table as usize) + index);
  const host = tableHost(table >> PAGE_SHIFT, level);
  return host == 0 ? 0 : load<u64>(host + index);
}
