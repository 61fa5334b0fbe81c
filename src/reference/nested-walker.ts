/**
 * The reference 2-D walk: AMD SVM nested paging (APM vol. 2, 15.25), as the
 * scenario format defines it (docs/nested-paging.md), written independently
 * of the core and of walker.ts's loop, BigInt throughout.
 *
 * Two address spaces meet here:
 * - the guest's: `cpu.cr3` and every address in a guest paging entry are
 *   guest-physical (gPA);
 * - the host's: `mem` is host-physical, and the nested tables (4-level, from
 *   `cpu.npt.ncr3`) map gPA to host-physical addresses (hPA).
 *
 * Contract of {@link walkNested}, for one page of one access (the engine,
 * engine.ts, handles the canonical check and page-crossing accesses):
 * 1. For each guest level, from CR3 down: the guest entry's gPA
 *    (table + 8 * index) is translated through the nested tables as a user
 *    write ({@link translateNested}); a nested fault there is an NPF with
 *    EXITINFO1 bit 33 and EXITINFO2 = that gPA. Only then is the guest entry
 *    read (at its hPA) and checked as in version 1: P, reserved bits (guest
 *    EFER.NXE, shared MAXPHYADDR), PS; a non-leaf entry (and a PDPTE before
 *    PS is looked at) gets A.
 * 2. The guest's access rights (U/S, R/W with CR0.WP, SMEP, SMAP with
 *    EFLAGS.AC, XD, protection keys) → #PF as in version 1; else the guest
 *    leaf gets A, and D for a write.
 * 3. The final gPA is translated through the nested tables with the access's
 *    own type as a user access; a nested fault is an NPF with EXITINFO1 bit 32
 *    (and I/D for a fetch when the host's EFER.NXE is 1), EXITINFO2 = the gPA.
 *    The guest leaf's A/D of step 2 stay.
 *
 * Nested tables (always 4-level): the long-mode entry format, reserved bits
 * MAXPHYADDR..51, XD when the host's NXE is 0, PS in the PML4E, a 2 MiB or
 * 1 GiB leaf's frame bits 20:13 / 29:13. Every nested access is a user access
 * (U/S = 1 needed at every level, whatever the guest's CPL); writes need R/W
 * = 1 at every level; XD anywhere forbids a fetch (host NXE). Nested A/D as in
 * version 1: A of a non-leaf entry once it is present without reserved bits
 * (also when the walk then faults; a PDPTE before PS), A (and D for a write)
 * of the leaf only when the access is allowed.
 */
import {
  CR0_WP_BIT,
  CR4_LA57_BIT,
  CR4_PKE_BIT,
  CR4_PKS_BIT,
  CR4_SMAP_BIT,
  CR4_SMEP_BIT,
  EFER_NXE_BIT,
  LEVEL_PD,
  LEVEL_PDPT,
  LEVEL_PML4,
  LEVEL_PML5,
  LEVEL_PT,
  PFEC_ID,
  PFEC_P,
  PFEC_PK,
  PFEC_RSVD,
  PFEC_U,
  PFEC_W,
  PTE_A_BIT,
  PTE_D_BIT,
  PTE_P_BIT,
  PTE_PS_BIT,
  PTE_RW_BIT,
  PTE_US_BIT,
  PTE_XD_BIT,
  allowsOf,
} from "../arch/index.js";
import type { CpuState, NestedGuestLevel, NestedWalk, NptState, Op, WalkStep } from "../scenario/types.js";
import type { PhysicalMemory } from "./memory.js";
import type { WalkInput } from "./walker.js";

// ---- Small bit helpers (BigInt) ----

const one = (n: number): bigint => 1n << BigInt(n);
const isSet = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) === 1n;
/** Bits `hi` down to `lo`, inclusive. */
const mask = (hi: number, lo: number): bigint => (hi < lo ? 0n : ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo));

/** Bits 51:12: the address of a table or of a 4 KiB frame in an entry (and in CR3 / nCR3). */
const ADDR = mask(51, 12);

/** EXITINFO1 bit 32: the nested fault happened on the final guest-physical address. */
export const NPF_FINAL_GPA = 1n << 32n;
/** EXITINFO1 bit 33: the nested fault happened while translating a guest paging entry's address. */
export const NPF_GUEST_TABLE = 1n << 33n;

const NAMES: Record<number, string> = {
  [LEVEL_PML5]: "PML5",
  [LEVEL_PML4]: "PML4",
  [LEVEL_PDPT]: "PDPT",
  [LEVEL_PD]: "PD",
  [LEVEL_PT]: "PT",
};

/** Low address bits a page mapped at `level` covers: 12 (PT), 21 (PD), 30 (PDPT). */
const pageBits = (level: number): number => 12 + 9 * (level - 1);

/** The entry index `addr` selects at `level`. */
const indexAt = (addr: bigint, level: number): number => Number((addr >> BigInt(pageBits(level))) & 0x1ffn);

/** "4K", "2M", "1G" for a leaf at `level` (entry present), else undefined. */
function leafSize(level: number, entry: bigint): "4K" | "2M" | "1G" | undefined {
  if (level === LEVEL_PT) return "4K";
  if (level === LEVEL_PD && isSet(entry, PTE_PS_BIT)) return "2M";
  if (level === LEVEL_PDPT && isSet(entry, PTE_PS_BIT)) return "1G";
  return undefined;
}

/**
 * Reserved bits of a long-mode entry at `level` that the walk checks before it
 * looks at PS (Tables 4-15..4-20, APM 5.3.3): address bits MAXPHYADDR..51, XD
 * without NXE, PS in a PML5E / PML4E.
 */
function reservedBits(level: number, maxphyaddr: number, nxe: boolean): bigint {
  let r = mask(51, maxphyaddr);
  if (!nxe) r |= one(PTE_XD_BIT);
  if (level >= LEVEL_PML4) r |= one(PTE_PS_BIT);
  return r;
}

/** Reserved frame bits of a large leaf: 20:13 (2 MiB) or 29:13 (1 GiB); bit 12 is PAT. */
const largeFrameReserved = (level: number): bigint => mask(pageBits(level) - 1, 13);

function step(level: number, table: bigint, index: number, entry: bigint, nxe: boolean, gpa?: bigint): WalkStep {
  const size = isSet(entry, PTE_P_BIT) ? leafSize(level, entry) : undefined;
  const s: WalkStep = { level: NAMES[level]!, table, index, entryAddr: table + 8n * BigInt(index), entry, allows: allowsOf(entry, size, nxe) };
  if (gpa !== undefined) s.gpa = gpa;
  return s;
}

// ---- The nested walk: one gPA → hPA ----

/** The outcome of one nested translation. */
export type NestedTranslation =
  | { ok: true; hpa: bigint; steps: WalkStep[] }
  /** `code`: EXITINFO1 bits 4:0 (P, RW, US, RSVD, ID), without bit 32/33. */
  | { ok: false; code: bigint; steps: WalkStep[] };

/**
 * Translates the guest-physical address `gpa` through the nested tables for a
 * user access of kind `op` ("write" for a guest paging entry), reading them
 * from host-physical `mem` and setting nested A/D there.
 *
 * `op` "fetch" adds I/D to the fault code when the host's NXE is 1 (only the
 * final gPA of a fetch is translated so). Every step carries `gpa`, marking it
 * as a nested step in a trace. A gPA above bit 47 is translated by its bits
 * 47:0 (the nested walk has 4 levels; the corpus never reaches one).
 */
export function translateNested(npt: NptState, maxphyaddr: number, mem: PhysicalMemory, gpa: bigint, op: Op): NestedTranslation {
  const write = op === "write";
  const fetch = op === "fetch";
  const nxe = npt.nxe;
  const steps: WalkStep[] = [];

  // Fault code (APM 15.25.6 EXITINFO1): US always (the walk is a user access),
  // RW for a write, ID for a fetch with the host's NXE; the cause adds P, RSVD.
  let access = BigInt(PFEC_U);
  if (write) access |= BigInt(PFEC_W);
  if (fetch && nxe) access |= BigInt(PFEC_ID);
  const fault = (cause: number, why: string): NestedTranslation => {
    steps[steps.length - 1]!.stop = `nested: ${why}`;
    return { ok: false, code: access | BigInt(cause), steps };
  };

  let table = npt.ncr3 & ADDR;
  let rw = true;
  let us = true;
  let xd = false;
  for (let level = LEVEL_PML4; ; level--) {
    const index = indexAt(gpa, level);
    const entryAddr = table + 8n * BigInt(index);
    const entry = mem.read64(entryAddr);
    steps.push(step(level, table, index, entry, nxe, gpa));

    if (!isSet(entry, PTE_P_BIT)) return fault(0, "not present");
    if ((entry & reservedBits(level, maxphyaddr, nxe)) !== 0n) return fault(PFEC_P | PFEC_RSVD, "reserved bit set");
    rw &&= isSet(entry, PTE_RW_BIT);
    us &&= isSet(entry, PTE_US_BIT);
    xd ||= nxe && isSet(entry, PTE_XD_BIT);

    const size = leafSize(level, entry);
    // A of an entry that references a table, and of a PDPTE before PS is
    // looked at (version 1's choice, also on the nested side).
    if ((size === undefined || level === LEVEL_PDPT) && !isSet(entry, PTE_A_BIT)) mem.write64(entryAddr, entry | one(PTE_A_BIT));
    if (size === undefined) {
      table = entry & ADDR;
      continue;
    }
    if (level !== LEVEL_PT && (entry & largeFrameReserved(level)) !== 0n) {
      return fault(PFEC_P | PFEC_RSVD, "reserved bit set (large-page frame address)");
    }

    // The leaf: rights of a user access.
    if (!us) return fault(PFEC_P, "supervisor-only (U/S=0): nested accesses are user accesses");
    if (write && !rw) return fault(PFEC_P, "write to a read-only page");
    if (fetch && xd) return fault(PFEC_P, "execute-disable");

    // Allowed: the leaf gets A, and D for a write.
    const now = mem.read64(entryAddr);
    const updated = now | one(PTE_A_BIT) | (write ? one(PTE_D_BIT) : 0n);
    if (updated !== now) mem.write64(entryAddr, updated);

    const low = mask(pageBits(level) - 1, 0);
    return { ok: true, hpa: (entry & ADDR & ~low) | (gpa & low), steps };
  }
}

// ---- The 2-D walk: guest-linear → gPA → hPA ----

/** The outcome of one page of one access under nested paging. */
export type NestedWalkOutcome =
  | { ok: true; pa: bigint; steps: WalkStep[]; nested: NestedWalk }
  | { ok: false; fault: "PF"; errorCode: bigint; steps: WalkStep[]; nested: NestedWalk }
  | { ok: false; fault: "NPF"; exitinfo1: bigint; exitinfo2: bigint; steps: WalkStep[]; nested: NestedWalk };

/**
 * Translates guest-linear `input.va` (canonical; the engine checks) for one
 * access under nested paging. Requires `cpu.npt` and a long-mode guest (the
 * parser ensures both). Sets guest A/D (at the guest entries' host addresses)
 * and nested A/D in `mem` as it goes. Returns the host-physical address of
 * `input.va`, the guest's #PF error code, or the NPF's EXITINFO1/EXITINFO2.
 *
 * `steps` is the trace, flat and in walk order: for each guest level the
 * nested steps that translated its entry's gPA (each with `gpa`), then the
 * guest step (guest-physical `table` / `entryAddr`); at the end the nested
 * steps of the final gPA. `nested` holds the same steps by guest level.
 */
export function walkNested(cpu: CpuState, mem: PhysicalMemory, input: WalkInput): NestedWalkOutcome {
  const npt = cpu.npt;
  if (npt === undefined) throw new Error("walkNested: the scenario has no cpu.npt");
  const { va, op, ac } = input;
  const user = input.cpl === 3;
  const write = op === "write";
  const fetch = op === "fetch";

  const wp = isSet(cpu.cr0, CR0_WP_BIT);
  const smep = isSet(cpu.cr4, CR4_SMEP_BIT);
  const smap = isSet(cpu.cr4, CR4_SMAP_BIT);
  const pke = isSet(cpu.cr4, CR4_PKE_BIT);
  const pks = isSet(cpu.cr4, CR4_PKS_BIT);
  const nxe = isSet(cpu.efer, EFER_NXE_BIT);

  const steps: WalkStep[] = [];
  const nested: NestedWalk = { levels: [] };

  // The guest's #PF error code: the access's bits (W/R, U/S, I/D for a fetch
  // when the guest's EFER.NXE or CR4.SMEP is 1) and the cause (P, RSVD, PK).
  let access = 0n;
  if (write) access |= BigInt(PFEC_W);
  if (user) access |= BigInt(PFEC_U);
  if (fetch && (nxe || smep)) access |= BigInt(PFEC_ID);
  const pageFault = (cause: number, why: string): NestedWalkOutcome => {
    steps[steps.length - 1]!.stop = why;
    return { ok: false, fault: "PF", errorCode: access | BigInt(cause), steps, nested };
  };
  const nestedFault = (code: bigint, where: bigint, gpa: bigint): NestedWalkOutcome => ({
    ok: false,
    fault: "NPF",
    exitinfo1: code | where,
    exitinfo2: gpa,
    steps,
    nested,
  });

  let table = cpu.cr3 & ADDR;
  let rw = true;
  let us = true;
  let xd = false;
  let leaf: { level: number; entry: bigint; hpa: bigint } | undefined;
  for (let level = isSet(cpu.cr4, CR4_LA57_BIT) ? LEVEL_PML5 : LEVEL_PML4; leaf === undefined; level--) {
    const index = indexAt(va, level);
    const entryGpa = table + 8n * BigInt(index);

    // The guest entry is reached through the nested tables first, as a user
    // write (QEMU and KVM; APM 15.25.5), so a nested fault here wins over the
    // entry's own P and reserved bits.
    const t = translateNested(npt, cpu.maxphyaddr, mem, entryGpa, "write");
    steps.push(...t.steps);
    const record: NestedGuestLevel = { gpa: entryGpa, nested: t.steps };
    nested.levels.push(record);
    if (!t.ok) return nestedFault(t.code, NPF_GUEST_TABLE, entryGpa);

    const entry = mem.read64(t.hpa);
    const s = step(level, table, index, entry, nxe);
    steps.push(s);
    record.hpa = t.hpa;
    record.guest = s;

    if (!isSet(entry, PTE_P_BIT)) return pageFault(0, "not present");
    if ((entry & reservedBits(level, cpu.maxphyaddr, nxe)) !== 0n) return pageFault(PFEC_P | PFEC_RSVD, "reserved bit set");
    rw &&= isSet(entry, PTE_RW_BIT);
    us &&= isSet(entry, PTE_US_BIT);
    xd ||= nxe && isSet(entry, PTE_XD_BIT);

    const size = leafSize(level, entry);
    if ((size === undefined || level === LEVEL_PDPT) && !isSet(entry, PTE_A_BIT)) mem.write64(t.hpa, entry | one(PTE_A_BIT));
    if (size === undefined) {
      table = entry & ADDR;
      continue;
    }
    if (level !== LEVEL_PT && (entry & largeFrameReserved(level)) !== 0n) {
      return pageFault(PFEC_P | PFEC_RSVD, "reserved bit set (large-page frame address)");
    }
    leaf = { level, entry, hpa: t.hpa };
  }

  // ---- The guest's access rights, as in version 1 (SDM 4.6, 4.6.2) ----
  if (user && !us) return pageFault(PFEC_P, "user access to a supervisor page");
  let allowed: boolean;
  let why = "";
  if (fetch) {
    allowed = !xd && (user || !(smep && us));
    why = xd ? "execute-disable" : "SMEP: supervisor fetch from a user page";
  } else if (!user && us && smap && !ac) {
    allowed = false;
    why = "SMAP: supervisor access to a user page with EFLAGS.AC = 0";
  } else {
    allowed = !write || rw || (!user && !wp);
    why = "write to a read-only page";
  }
  if (!fetch) {
    // Protection keys of the guest leaf: PKRU for user pages (CR4.PKE),
    // IA32_PKRS for supervisor pages (CR4.PKS); PK reported whenever the key
    // denies the access (version 1's rule).
    const rights = us ? (pke ? cpu.pkru : 0n) : pks ? cpu.pkrs : 0n;
    const key = Number((leaf.entry >> 59n) & 0xfn);
    if (isSet(rights, 2 * key)) return pageFault(PFEC_P | PFEC_PK, `protection key ${key}: access disabled`);
    if (write && isSet(rights, 2 * key + 1) && (user || wp)) return pageFault(PFEC_P | PFEC_PK, `protection key ${key}: write disabled`);
  }
  if (!allowed) return pageFault(PFEC_P, why);

  // The guest leaf gets A (and D for a write) before the final gPA is
  // translated; they stay when that translation faults (QEMU's order).
  const current = mem.read64(leaf.hpa);
  const updated = current | one(PTE_A_BIT) | (write ? one(PTE_D_BIT) : 0n);
  if (updated !== current) mem.write64(leaf.hpa, updated);

  // ---- The final gPA, with the access's own type, as a user access ----
  const low = mask(pageBits(leaf.level) - 1, 0);
  const gpa = (leaf.entry & ADDR & ~low) | (va & low);
  const f = translateNested(npt, cpu.maxphyaddr, mem, gpa, op);
  steps.push(...f.steps);
  nested.final = { gpa, nested: f.steps };
  if (!f.ok) return nestedFault(f.code, NPF_FINAL_GPA, gpa);
  nested.final.hpa = f.hpa;
  return { ok: true, pa: f.hpa, steps, nested };
}
