/**
 * Not-present faults at every level, and the I/D error-code bit.
 *
 * SDM Vol. 3A 4.5.4: a walk stops with a page fault at the first entry whose
 * P flag (bit 0) is 0; every other bit of such an entry is ignored.
 * SDM 4.7 (Figure 4-12): error code P=0 ("the fault was caused by a
 * non-present page"), W/R = 1 for a write, U/S = 1 for a CPL-3 access, I/D = 1
 * for an instruction fetch "if CR4.SMEP = 1 or (CR4.PAE = 1 and IA32_EFER.NXE = 1)";
 * CR2 receives the linear address that caused the fault.
 * QEMU choice (format doc): every present, reserved-bit-free non-leaf entry the
 * walk passes gets its accessed flag (bit 5, +0x20), even though the access
 * then faults.
 */
import {
  sdmCase, chain, at, read, write, fetch, pf, changes,
  cr4, SMEP, EFER_NO_NXE, type SdmCase,
} from "./builder.js";

export const presentCases: SdmCase[] = [
  // PML4E = 0x2006 (RW|US but P=0): walk stops at level 4. Supervisor read:
  // P=0, W=0, U=0 -> 0x0; CR2 = va. Nothing was present, so no A flag is set.
  sdmCase(
    "4.5.4/4.7 not-present PML4E, supervisor read -> PF 0x0, CR2 = va",
    { memory: chain("0x2006", "0x3007", "0x4007", "0x5007"), accesses: [read("0x123")] },
    { results: [pf("0x0", "0x123")], memory: [] },
  ),
  // PDPTE = 0 at 0x2000. User write: P=0, W=1 (0x2), U=1 (0x4) -> 0x6.
  // PML4E was present and clean: A set, 0x2007 -> 0x2027.
  sdmCase(
    "4.5.4/4.7 not-present PDPTE, user write -> PF 0x6",
    { memory: chain("0x2007", "0x0", "0x4007", "0x5007"), accesses: [write("0x456", "0x1", 3, 4)] },
    { results: [pf("0x6", "0x456")], memory: changes(["0x1000", "0x2027"]) },
  ),
  // PDE = 0x4006 (P=0). User read: U only -> 0x4. PML4E and PDPTE get A.
  sdmCase(
    "4.5.4/4.7 not-present PDE, user read -> PF 0x4",
    { memory: chain("0x2007", "0x3007", "0x4006", "0x5007"), accesses: [read("0x789", 3)] },
    { results: [pf("0x4", "0x789")], memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"]) },
  ),
  // PTE = 0x5002 (P=0). Supervisor write: W only -> 0x2. Three non-leaf A flags.
  sdmCase(
    "4.5.4/4.7 not-present PTE, supervisor write -> PF 0x2",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x5002"), accesses: [write("0xabc", "0xff", 0, 1)] },
    {
      results: [pf("0x2", "0xabc")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]),
    },
  ),
  // PTE = 0 . User write: W|U = 0x6.
  sdmCase(
    "4.5.4/4.7 not-present PTE, user write -> PF 0x6",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x0"), accesses: [write("0x8", "0x1", 3)] },
    {
      results: [pf("0x6", "0x8")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]),
    },
  ),
  // SDM 4.5.4: if P=0 "the processor ignores bits 63:1", so bits 51:48 (above
  // MAXPHYADDR 36) and bit 63 (reserved when NXE=0) do NOT make it a RSVD
  // fault. User read: error 0x4 (no RSVD, P=0).
  sdmCase(
    "4.5.4 a not-present PTE's reserved bits are ignored (no RSVD) -> PF 0x4",
    {
      cpu: { efer: EFER_NO_NXE, maxphyaddr: 36 },
      memory: chain("0x2007", "0x3007", "0x4007", "0x800f000000005006"),
      accesses: [read("0x0", 3)],
    },
    {
      results: [pf("0x4", "0x0")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]),
    },
  ),
  // CR2 holds the full 64-bit linear address. va 0xffff800000001234: PML4
  // index = bits 47:39 = 0x100 -> entry at 0x1000 + 0x800 = 0x1800, which is 0.
  sdmCase(
    "4.7 CR2 is the full canonical high-half address of a not-present fault",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x5007"), accesses: [read("0xffff800000001234")] },
    { results: [pf("0x0", "0xffff800000001234")], memory: [] },
  ),
  // I/D: NXE=0 and SMEP=0 -> I/D not reported. Supervisor fetch of a
  // not-present PTE: 0x0.
  sdmCase(
    "4.7 I/D not reported when NXE=0 and SMEP=0: supervisor fetch not-present -> 0x0",
    {
      cpu: { efer: EFER_NO_NXE },
      memory: chain("0x2007", "0x3007", "0x4007", "0x0"),
      accesses: [fetch("0x10")],
    },
    {
      results: [pf("0x0", "0x10")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]),
    },
  ),
  // Same with CPL 3: U only -> 0x4.
  sdmCase(
    "4.7 I/D not reported when NXE=0 and SMEP=0: user fetch not-present -> 0x4",
    {
      cpu: { efer: EFER_NO_NXE },
      memory: chain("0x2007", "0x3007", "0x4007", "0x0"),
      accesses: [fetch("0x10", 3)],
    },
    {
      results: [pf("0x4", "0x10")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]),
    },
  ),
  // NXE=1 (and PAE=1): I/D reported -> 0x10.
  sdmCase(
    "4.7 I/D reported when NXE=1: supervisor fetch not-present -> 0x10",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x0"), accesses: [fetch("0x10")] },
    {
      results: [pf("0x10", "0x10")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]),
    },
  ),
  // NXE=0 but SMEP=1: I/D reported -> 0x10.
  sdmCase(
    "4.7 I/D reported when SMEP=1 (NXE=0): supervisor fetch not-present -> 0x10",
    {
      cpu: { efer: EFER_NO_NXE, cr4: cr4(SMEP) },
      memory: chain("0x2007", "0x3007", "0x4007", "0x0"),
      accesses: [fetch("0x10")],
    },
    {
      results: [pf("0x10", "0x10")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]),
    },
  ),
  // NXE=1, user fetch, PML4E not present: U|I/D = 0x14; nothing accessed.
  sdmCase(
    "4.7 user fetch, PML4E not present, NXE=1 -> PF 0x14",
    { memory: [at(0x1000, "0x0")], accesses: [fetch("0x7000", 3)] },
    { results: [pf("0x14", "0x7000")], memory: [] },
  ),
];
