/**
 * Execute-disable (XD, bit 63).
 *
 * SDM Vol. 3A 4.6.1/4.6.2: with IA32_EFER.NXE=1, instructions may not be
 * fetched from a linear address if XD=1 in any paging-structure entry
 * controlling its translation (at any level, leaf or not); data accesses
 * ignore XD. With NXE=0, bit 63 is reserved in every entry (Tables 4-14..4-20,
 * 4.5.4): setting it in a present entry causes a reserved-bit fault.
 * SDM 4.7: RSVD (0x8) with P=1 for a reserved-bit violation; I/D (0x10) only
 * if NXE=1 or SMEP=1. QEMU choice (format doc): an entry with a reserved bit
 * does not get A; present non-leaf entries above it do; a 1 GiB leaf gets A
 * even when the access faults, a 2 MiB / 4 KiB leaf only when allowed.
 */
import {
  sdmCase, chain, fill, read, write, fetch, ok, okRead, pf, changes,
  cr4, SMEP, EFER_NO_NXE, type SdmCase,
} from "./builder.js";

const NONLEAF_A = changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]);

export const xdCases: SdmCase[] = [
  // PTE XD=1, NXE=1, supervisor fetch: P|I/D = 0x11.
  sdmCase(
    "4.6.2 NXE=1 supervisor fetch from XD page -> PF 0x11",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x8000000000005007"), accesses: [fetch("0x20")] },
    { results: [pf("0x11", "0x20")], memory: NONLEAF_A },
  ),
  // User fetch: P|U|I/D = 0x15.
  sdmCase(
    "4.6.2 NXE=1 user fetch from XD page -> PF 0x15",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x8000000000005007"), accesses: [fetch("0x20", 3)] },
    { results: [pf("0x15", "0x20")], memory: NONLEAF_A },
  ),
  // XD in the PML4E forbids fetches from the whole 512 GiB region: 0x11.
  // PML4E A: 0x8000000000002007 -> 0x8000000000002027.
  sdmCase(
    "4.6.2 XD in a non-leaf PML4E forbids fetch -> PF 0x11",
    { memory: chain("0x8000000000002007", "0x3007", "0x4007", "0x5007"), accesses: [fetch("0x20")] },
    {
      results: [pf("0x11", "0x20")],
      memory: changes(["0x1000", "0x8000000000002027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]),
    },
  ),
  // XD in the PDE, user fetch: 0x15.
  sdmCase(
    "4.6.2 XD in a non-leaf PDE forbids user fetch -> PF 0x15",
    { memory: chain("0x2007", "0x3007", "0x8000000000004007", "0x5007"), accesses: [fetch("0x20", 3)] },
    {
      results: [pf("0x15", "0x20")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x8000000000004027"]),
    },
  ),
  // XD does not affect data reads: read through an XD PDPTE is allowed.
  sdmCase(
    "4.6.2 XD does not forbid data reads",
    {
      memory: [...chain("0x2007", "0x8000000000003007", "0x4007", "0x5007"), fill(0x5000, "0x77")],
      accesses: [read("0x20", 3)],
    },
    {
      results: [okRead("0x5020", "0x77")],
      memory: changes(
        ["0x1000", "0x2027"], ["0x2000", "0x8000000000003027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"],
      ),
    },
  ),
  // Fetch with XD=0 everywhere: allowed; fetch sets A but never D.
  sdmCase(
    "4.6.2 NXE=1 fetch from executable page is allowed (A set, no D)",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x5007"), accesses: [fetch("0x123", 3)] },
    {
      results: [ok("0x5123")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"]),
    },
  ),
  // 2 MiB leaf with XD: fault 0x11; the 2 MiB leaf PDE gets no A.
  sdmCase(
    "4.6.2 XD in a 2 MiB leaf PDE -> PF 0x11, leaf A not set",
    { memory: chain("0x2007", "0x3007", "0x8000000000200087"), accesses: [fetch("0x1234")] },
    { results: [pf("0x11", "0x1234")], memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"]) },
  ),
  // 1 GiB leaf with XD, user fetch: 0x15; the PDPTE gets A anyway (QEMU
  // choice): 0x8000000040000087 -> 0x80000000400000a7.
  sdmCase(
    "4.6.2 XD in a 1 GiB leaf PDPTE -> PF 0x15, 1 GiB leaf still gets A",
    { memory: chain("0x2007", "0x8000000040000087"), accesses: [fetch("0x1234", 3)] },
    { results: [pf("0x15", "0x1234")], memory: changes(["0x1000", "0x2027"], ["0x2000", "0x80000000400000a7"]) },
  ),

  // ---- NXE = 0: bit 63 reserved ----
  // PTE bit 63 with NXE=0, supervisor read: P|RSVD = 0x9. The PTE (with a
  // reserved bit) gets no A; the non-leaf entries above do.
  sdmCase(
    "4.5.4 NXE=0: bit 63 in PTE is reserved, supervisor read -> PF 0x9",
    {
      cpu: { efer: EFER_NO_NXE },
      memory: chain("0x2007", "0x3007", "0x4007", "0x8000000000005007"),
      accesses: [read("0x0")],
    },
    { results: [pf("0x9", "0x0")], memory: NONLEAF_A },
  ),
  // Bit 63 in PML4E with NXE=0: 0x9 and nothing is set.
  sdmCase(
    "4.5.4 NXE=0: bit 63 in PML4E is reserved -> PF 0x9, no A set",
    {
      cpu: { efer: EFER_NO_NXE },
      memory: chain("0x8000000000002007", "0x3007", "0x4007", "0x5007"),
      accesses: [read("0x0")],
    },
    { results: [pf("0x9", "0x0")], memory: [] },
  ),
  // Bit 63 in PDE with NXE=0, user write: P|W|U|RSVD = 1+2+4+8 = 0xf.
  sdmCase(
    "4.5.4 NXE=0: bit 63 in PDE, user write -> PF 0xf",
    {
      cpu: { efer: EFER_NO_NXE },
      memory: chain("0x2007", "0x3007", "0x8000000000004007", "0x5007"),
      accesses: [write("0x0", "0x1", 3)],
    },
    { results: [pf("0xf", "0x0")], memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"]) },
  ),
  // Fetch hitting the reserved bit 63 with NXE=0 and SMEP=0: I/D not
  // reported -> P|RSVD = 0x9.
  sdmCase(
    "4.7 NXE=0 SMEP=0: fetch with bit 63 set (reserved) -> PF 0x9, no I/D",
    {
      cpu: { efer: EFER_NO_NXE },
      memory: chain("0x2007", "0x3007", "0x4007", "0x8000000000005003"),
      accesses: [fetch("0x0")],
    },
    { results: [pf("0x9", "0x0")], memory: NONLEAF_A },
  ),
  // Same with SMEP=1 (supervisor page, so SMEP itself would allow it): I/D
  // reported -> P|RSVD|I/D = 0x19.
  sdmCase(
    "4.7 NXE=0 SMEP=1: fetch with bit 63 set (reserved) -> PF 0x19",
    {
      cpu: { efer: EFER_NO_NXE, cr4: cr4(SMEP) },
      memory: chain("0x2007", "0x3007", "0x4007", "0x8000000000005003"),
      accesses: [fetch("0x0")],
    },
    { results: [pf("0x19", "0x0")], memory: NONLEAF_A },
  ),
  // NXE=0: no execute-disable at all, a fetch from an ordinary page is fine.
  sdmCase(
    "4.6.2 NXE=0: fetch from ordinary page is allowed",
    {
      cpu: { efer: EFER_NO_NXE },
      memory: chain("0x2007", "0x3007", "0x4007", "0x5007"),
      accesses: [fetch("0xfff", 3)],
    },
    {
      results: [ok("0x5fff")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"]),
    },
  ),
];
