/**
 * The nested walk of AMD SVM nested paging (APM vol. 2, 15.25): a
 * guest-physical address (gPA) to a host-physical address through the host's
 * 4-level tables at nCR3. walk.ts calls it for every gPA a guest walk makes —
 * each guest table entry's address, as a user write, and the final gPA with
 * the access's own type, as a user access — before it reads or uses it.
 *
 * The entry format, reserved bits and accessed/dirty rules are long mode's
 * (walk.ts): A on a table-referencing entry once it is present without
 * reserved bits, a PDPTE's A before PS is looked at, a leaf's A (and D for a
 * write) only when the access is allowed. Rights: every nested access is a
 * user access, so U/S=1 is needed at every level; a write needs R/W=1 at
 * every level; XD (with the host's EFER.NXE) forbids a fetch. No SMEP, SMAP
 * or protection key applies. A fault is a nested page fault, #VMEXIT(NPF),
 * described by EXITINFO1 and EXITINFO2 (15.25.6).
 *
 * Intel EPT would be a sibling of this file: the same 4-level shape with
 * another entry format (R/W/X permission bits, a memory type, no U/S) and an
 * EPT violation with an exit qualification instead of EXITINFO1.
 */

import {
  ACCESS_FETCH, ACCESS_WRITE, PTE_P_BIT, PTE_RW_BIT, PTE_US_BIT, PTE_A_BIT, PTE_D_BIT, PTE_PS_BIT, PTE_XD_BIT,
  PAGE_SHIFT, PAGE_SIZE, LEVEL_PT, LEVEL_PDPT, LEVEL_PML4,
} from "../src/arch/bits";
import { perCpu } from "./percpu";
import { setFlags64 } from "./flags";
import { tableHost } from "./frames";
import { noteForced } from "./journal";
import { countEntry } from "./stats";
import { ncr3, nestedRsvd, hostNxe, ENTRY_ADDR_MASK } from "./state";

const P: u64 = (1 as u64) << PTE_P_BIT;
const RW: u64 = (1 as u64) << PTE_RW_BIT;
const US: u64 = (1 as u64) << PTE_US_BIT;
const A: u64 = (1 as u64) << PTE_A_BIT;
const D: u64 = (1 as u64) << PTE_D_BIT;
const PS: u64 = (1 as u64) << PTE_PS_BIT;
const XD: u64 = (1 as u64) << PTE_XD_BIT;

/** EXITINFO1 bits (APM 15.25.6). */
export const NPF_P: u64 = 1;
export const NPF_RW: u64 = 2;
export const NPF_US: u64 = 4;
export const NPF_RSVD: u64 = 8;
export const NPF_ID: u64 = 0x10;
/** The fault happened translating the final gPA of the access. */
export const NPF_FINAL: u64 = (1 as u64) << 32;
/** The fault happened translating the gPA of a guest table entry. */
export const NPF_TABLE: u64 = (1 as u64) << 33;

// ---- What the last nested walk found ----

/** The host-physical address of the translated gPA (every bit, offset included). */
export let nestedHpa: u64 = 0;
/** The nested leaf allows writes (R/W=1 at every level, D set), and fetches (no XD with host NXE). */
export let nestedWritable: bool = false;
export let nestedExecutable: bool = false;
/** The nested leaf entry's value. */
export let nestedLeaf: u64 = 0;
/** For a nested page fault: EXITINFO1 and EXITINFO2 (the gPA being translated). */
export let exitInfo1: u64 = 0;
export let exitInfo2: u64 = 0;

// ---- Nested trace: for `explain`'s 2-D grid ----
//
//   24 bytes per nested level visited, at most 64 between resets:
//   +0 u32 level  +4 u16 guest step (the guest trace's index, or 0xffff for the final gPA)  +6 u16 index
//   +8 u64 table  +16 u64 entry (as read)
export let nestedTraceOn: bool = false;
export let nestedTraceCount: u32 = 0;
export const nestedTraceBuf: usize = ASC_FEATURE_THREADS ? perCpu(64 * 24, 8) : memory.data(64 * 24, 8);
/** Which guest step the next nested walk serves (set by walk.ts). */
export let nestedTraceTag: u32 = 0;

export function setNestedTrace(on: bool, tag: u32): void {
  nestedTraceOn = on;
  nestedTraceTag = tag;
  if (!on) nestedTraceCount = 0;
}

export function nestedTraceReset(): void {
  nestedTraceCount = 0;
}

function npf(gpa: u64, op: u32, guestTable: bool, bits: u64): bool {
  let info = bits | NPF_US | (guestTable ? NPF_TABLE : NPF_FINAL);
  if (op == ACCESS_WRITE) info |= NPF_RW;
  if (op == ACCESS_FETCH && !guestTable && hostNxe) info |= NPF_ID;
  exitInfo1 = info;
  exitInfo2 = gpa;
  return false;
}

/**
 * Translates guest-physical `gpa` for a nested access of kind `op`
 * (ACCESS_READ/WRITE/FETCH; always a user access), for a guest table entry
 * (`guestTable`) or the access's final gPA. With `touch`, sets nested A/D.
 * True with the result in nestedHpa; false on a nested page fault
 * (exitInfo1/exitInfo2).
 */
export function nestedWalk(gpa: u64, op: u32, guestTable: bool, touch: bool): bool {
  let table: u64 = ncr3 & ENTRY_ADDR_MASK;
  let level: i32 = LEVEL_PML4;
  let rights: u64 = RW | US;
  let xd: u64 = 0;
  let entry: u64 = 0;
  let ptr: usize = 0;
  let shift: u64 = 0;
  while (true) {
    shift = (PAGE_SHIFT + 9 * (level - 1)) as u64;
    const index = ((gpa >> shift) as u32) & 511;
    const host = tableHost(table >> PAGE_SHIFT, level);
    ptr = host + (index << 3);
    entry = host == 0 ? 0 : load<u64>(ptr);
    countEntry();
    if (nestedTraceOn && nestedTraceCount < 64) {
      const t = nestedTraceBuf + nestedTraceCount * 24;
      store<u32>(t, level);
      store<u16>(t, guestTable ? nestedTraceTag : 0xffff, 4);
      store<u16>(t, index, 6);
      store<u64>(t, table, 8);
      store<u64>(t, entry, 16);
      nestedTraceCount++;
    }
    if ((entry & P) == 0) return npf(gpa, op, guestTable, 0);
    let reserved = nestedRsvd;
    if (level == LEVEL_PML4) reserved |= PS;
    if ((entry & reserved) != 0) return npf(gpa, op, guestTable, NPF_RSVD | NPF_P);
    const leaf = level == LEVEL_PT || (level <= LEVEL_PDPT && (entry & PS) != 0);
    if (touch && (!leaf || level == LEVEL_PDPT) && (entry & A) == 0) {
      entry |= A;
      noteForced(ptr & ~((PAGE_SIZE - 1) as usize));
      setFlags64(ptr, entry, A);
    }
    rights &= entry;
    xd |= entry & XD;
    if (leaf) {
      if (level > LEVEL_PT) {
        const low: u64 = (((1 as u64) << shift) - 1) & ~((2 * PAGE_SIZE - 1) as u64);
        if ((entry & low) != 0) return npf(gpa, op, guestTable, NPF_RSVD | NPF_P);
      }
      break;
    }
    table = entry & ENTRY_ADDR_MASK;
    level--;
  }
  // Every nested access is a user access.
  if ((rights & US) == 0) return npf(gpa, op, guestTable, NPF_P);
  if (op == ACCESS_WRITE && (rights & RW) == 0) return npf(gpa, op, guestTable, NPF_P);
  const noExec = hostNxe && xd != 0;
  if (op == ACCESS_FETCH && noExec) return npf(gpa, op, guestTable, NPF_P);
  if (touch) {
    let updated = entry | A;
    if (op == ACCESS_WRITE) updated |= D;
    if (updated != entry) {
      const added = updated ^ entry;
      entry = updated;
      noteForced(ptr & ~((PAGE_SIZE - 1) as usize));
      setFlags64(ptr, entry, added);
    }
  }
  const pageMask: u64 = ((1 as u64) << shift) - 1;
  nestedHpa = (entry & ENTRY_ADDR_MASK & ~pageMask) | (gpa & pageMask);
  nestedWritable = (rights & RW) != 0 && (entry & D) != 0;
  nestedExecutable = !noExec;
  nestedLeaf = entry;
  return true;
}
