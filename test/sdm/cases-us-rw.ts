/**
 * User/supervisor (U/S, bit 2) and read/write (R/W, bit 1) rights.
 *
 * SDM Vol. 3A 4.6.1: a linear address is a user-mode address if U/S=1 in
 * every paging-structure entry controlling its translation, else a
 * supervisor-mode address. User-mode accesses (CPL 3) may not touch
 * supervisor-mode addresses at all; user writes need R/W=1 at every level.
 * Supervisor writes need R/W=1 at every level only if CR0.WP=1; with WP=0
 * they may write any page (SMAP aside). Supervisor reads of user-mode
 * addresses are allowed when CR4.SMAP=0.
 * SDM 4.7: a protection violation has P=1; W/R and U/S describe the access.
 * SDM 4.8: the accessed flag of the leaf, and for a write its dirty flag, are
 * set when the access is performed. QEMU choice (format doc): all present
 * non-leaf entries get A even if the access faults; the leaf only if allowed.
 */
import {
  sdmCase, chain, fill, at, read, write, fetch, ok, okRead, pf, changes,
  CR0_WP0, EFER_NO_NXE, type SdmCase,
} from "./builder.js";

const NONLEAF_A = changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]);

export const usRwCases: SdmCase[] = [
  // PML4E 0x2003: U/S=0 -> supervisor-mode address. User read: P|U = 0x5.
  // A set on all three non-leaf entries (0x2003 -> 0x2023); PTE untouched.
  sdmCase(
    "4.6.1 user read, U/S=0 in PML4E -> PF 0x5",
    { memory: chain("0x2003", "0x3007", "0x4007", "0x5007"), accesses: [read("0x0", 3)] },
    {
      results: [pf("0x5", "0x0")],
      memory: changes(["0x1000", "0x2023"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]),
    },
  ),
  sdmCase(
    "4.6.1 user read, U/S=0 in PDPTE -> PF 0x5",
    { memory: chain("0x2007", "0x3003", "0x4007", "0x5007"), accesses: [read("0x0", 3)] },
    {
      results: [pf("0x5", "0x0")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3023"], ["0x3000", "0x4027"]),
    },
  ),
  sdmCase(
    "4.6.1 user read, U/S=0 in PDE -> PF 0x5",
    { memory: chain("0x2007", "0x3007", "0x4003", "0x5007"), accesses: [read("0x0", 3)] },
    {
      results: [pf("0x5", "0x0")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4023"]),
    },
  ),
  sdmCase(
    "4.6.1 user read, U/S=0 in PTE -> PF 0x5",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x5003"), accesses: [read("0x0", 3)] },
    { results: [pf("0x5", "0x0")], memory: NONLEAF_A },
  ),
  // User write to a supervisor page that is writable: P|W|U = 0x7.
  sdmCase(
    "4.6.1 user write, U/S=0 in PTE (R/W=1) -> PF 0x7",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x5003"), accesses: [write("0x0", "0x1", 3)] },
    { results: [pf("0x7", "0x0")], memory: NONLEAF_A },
  ),
  // User fetch of a supervisor page, NXE=1: P|U|I/D = 0x15.
  sdmCase(
    "4.6.1 user fetch of supervisor page, NXE=1 -> PF 0x15",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x5003"), accesses: [fetch("0x0", 3)] },
    { results: [pf("0x15", "0x0")], memory: NONLEAF_A },
  ),
  // Same with NXE=0, SMEP=0: I/D not reported: P|U = 0x5.
  sdmCase(
    "4.6.1/4.7 user fetch of supervisor page, NXE=0 SMEP=0 -> PF 0x5 (no I/D)",
    {
      cpu: { efer: EFER_NO_NXE },
      memory: chain("0x2007", "0x3007", "0x4007", "0x5003"),
      accesses: [fetch("0x0", 3)],
    },
    { results: [pf("0x5", "0x0")], memory: NONLEAF_A },
  ),
  // Supervisor read of a user page, SMAP off: allowed. pa 0x5008, value = the
  // fill word; all four entries get A.
  sdmCase(
    "4.6.1 supervisor read of user page without SMAP is allowed",
    {
      memory: [...chain("0x2007", "0x3007", "0x4007", "0x5007"), fill(0x5000, "0x1122334455667788")],
      accesses: [read("0x8")],
    },
    {
      results: [okRead("0x5008", "0x1122334455667788")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"]),
    },
  ),
  // User read, U/S=1 everywhere: allowed.
  sdmCase(
    "4.6.1 user read of user page is allowed",
    {
      memory: [...chain("0x2007", "0x3007", "0x4007", "0x5007"), fill(0x5000, "0xa5a5a5a5a5a5a5a5")],
      accesses: [read("0x100", 3, 4)],
    },
    {
      results: [okRead("0x5100", "0xa5a5a5a5")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"]),
    },
  ),

  // ---- R/W ----
  // PTE 0x5005 (R/W=0). User write: P|W|U = 0x7.
  sdmCase(
    "4.6.1 user write to read-only PTE -> PF 0x7",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x5005"), accesses: [write("0x10", "0x1", 3)] },
    { results: [pf("0x7", "0x10")], memory: NONLEAF_A },
  ),
  // R/W=0 in the PDPTE makes the whole region read-only: 0x7; PDPTE 0x3005 -> 0x3025.
  sdmCase(
    "4.6.1 user write, R/W=0 in PDPTE only -> PF 0x7",
    { memory: chain("0x2007", "0x3005", "0x4007", "0x5007"), accesses: [write("0x10", "0x1", 3)] },
    {
      results: [pf("0x7", "0x10")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3025"], ["0x3000", "0x4027"]),
    },
  ),
  // Supervisor write to read-only page with CR0.WP=1: P|W = 0x3.
  sdmCase(
    "4.6.1 supervisor write to read-only PTE with CR0.WP=1 -> PF 0x3",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x5005"), accesses: [write("0x10", "0x1")] },
    { results: [pf("0x3", "0x10")], memory: NONLEAF_A },
  ),
  // R/W=0 in PML4E, WP=1, supervisor write: 0x3; PML4E 0x2005 -> 0x2025.
  sdmCase(
    "4.6.1 supervisor write, R/W=0 in PML4E with CR0.WP=1 -> PF 0x3",
    { memory: chain("0x2005", "0x3007", "0x4007", "0x5007"), accesses: [write("0x10", "0x1")] },
    {
      results: [pf("0x3", "0x10")],
      memory: changes(["0x1000", "0x2025"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]),
    },
  ),
  // CR0.WP=0: supervisor write to a read-only (user) page is allowed. The leaf
  // gets A and D: 0x5005 -> 0x5065. Data word 0x5008 (was 0) gets the value.
  sdmCase(
    "4.6.1 supervisor write to read-only page with CR0.WP=0 is allowed, sets D",
    {
      cpu: { cr0: CR0_WP0 },
      memory: chain("0x2007", "0x3007", "0x4007", "0x5005"),
      accesses: [write("0x8", "0x1122334455667788")],
    },
    {
      results: [ok("0x5008")],
      memory: changes(
        ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5065"],
        ["0x5008", "0x1122334455667788"],
      ),
    },
  ),
  // WP=0, supervisor-only read-only region (PDE 0x4001: P only): supervisor
  // byte write allowed. PDE 0x4001 -> 0x4021 (A); PTE -> 0x5067 (A|D);
  // byte 0xff at 0x5000 -> word 0x5000 = 0xff.
  sdmCase(
    "4.6.1 supervisor write to supervisor read-only region with CR0.WP=0 is allowed",
    {
      cpu: { cr0: CR0_WP0 },
      memory: chain("0x2007", "0x3007", "0x4001", "0x5007"),
      accesses: [write("0x0", "0xff", 0, 1)],
    },
    {
      results: [ok("0x5000")],
      memory: changes(
        ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4021"], ["0x4000", "0x5067"], ["0x5000", "0xff"],
      ),
    },
  ),
  // CR0.WP only concerns supervisor writes: user write to read-only with WP=0 -> 0x7.
  sdmCase(
    "4.6.1 user write to read-only page with CR0.WP=0 still faults -> PF 0x7",
    {
      cpu: { cr0: CR0_WP0 },
      memory: chain("0x2007", "0x3007", "0x4007", "0x5005"),
      accesses: [write("0x10", "0x1", 3)],
    },
    { results: [pf("0x7", "0x10")], memory: NONLEAF_A },
  ),
  // Reads ignore R/W: user read of read-only page OK, leaf 0x5005 -> 0x5025.
  sdmCase(
    "4.6.1 user read of read-only page is allowed",
    { memory: [...chain("0x2007", "0x3007", "0x4007", "0x5005"), at(0x5010, "0x42")], accesses: [read("0x10", 3, 1)] },
    {
      results: [okRead("0x5010", "0x42")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5025"]),
    },
  ),
];
