/**
 * Reserved bits (4-level paging).
 *
 * SDM Vol. 3A 4.5.4 and Tables 4-15..4-20: in a present entry the following
 * are reserved: bits 51:MAXPHYADDR in every entry; PS (bit 7) in a PML4E;
 * bits 29:13 of a PDPTE with PS=1 (1 GiB page; bit 12 is PAT); bits 20:13 of
 * a PDE with PS=1 (2 MiB page; bit 12 is PAT); bit 63 if EFER.NXE=0.
 * A reserved bit makes the walk stop with a page fault whose error code has
 * RSVD=1 and P=1 (SDM 4.7: "the P flag ... is set to 1").
 * QEMU choice (format doc): the entry with the reserved bit gets no A, present
 * non-leaf entries above it do; a 1 GiB PDPTE gets A before its low frame
 * bits (29:13) are looked at, but after bits 51:MAXPHYADDR are.
 *
 * MAXPHYADDR 36: bit 36 = 0x1000000000.
 */
import {
  sdmCase, chain, read, write, fetch, okRead, pf, changes, type SdmCase,
} from "./builder.js";

const NONLEAF_A = changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]);
const M36 = { maxphyaddr: 36 };

export const rsvdCases: SdmCase[] = [
  // Bit 36 of the PML4E, MAXPHYADDR 36: P|RSVD = 0x9; nothing gets A.
  sdmCase(
    "4.5.4 RSVD: bit MAXPHYADDR (36) set in PML4E -> PF 0x9",
    { cpu: M36, memory: chain("0x1000002007", "0x3007", "0x4007", "0x5007"), accesses: [read("0x0")] },
    { results: [pf("0x9", "0x0")], memory: [] },
  ),
  sdmCase(
    "4.5.4 RSVD: bit MAXPHYADDR (36) set in PDPTE -> PF 0x9",
    { cpu: M36, memory: chain("0x2007", "0x1000003007", "0x4007", "0x5007"), accesses: [read("0x0")] },
    { results: [pf("0x9", "0x0")], memory: changes(["0x1000", "0x2027"]) },
  ),
  sdmCase(
    "4.5.4 RSVD: bit MAXPHYADDR (36) set in PDE -> PF 0x9",
    { cpu: M36, memory: chain("0x2007", "0x3007", "0x1000004007", "0x5007"), accesses: [read("0x0")] },
    { results: [pf("0x9", "0x0")], memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"]) },
  ),
  sdmCase(
    "4.5.4 RSVD: bit MAXPHYADDR (36) set in PTE -> PF 0x9",
    { cpu: M36, memory: chain("0x2007", "0x3007", "0x4007", "0x1000005007"), accesses: [read("0x0")] },
    { results: [pf("0x9", "0x0")], memory: NONLEAF_A },
  ),
  // Bit 51 with MAXPHYADDR 46: reserved -> 0x9.
  sdmCase(
    "4.5.4 RSVD: bit 51 set in PTE with MAXPHYADDR 46 -> PF 0x9",
    {
      cpu: { maxphyaddr: 46 },
      memory: chain("0x2007", "0x3007", "0x4007", "0x0008000000005007"),
      accesses: [read("0x0")],
    },
    { results: [pf("0x9", "0x0")], memory: NONLEAF_A },
  ),
  // Bit 35 with MAXPHYADDR 36 is an address bit: frame 0x800005000, pa 0x800005010.
  sdmCase(
    "4.5.4 bit MAXPHYADDR-1 (35) is an address bit, not reserved",
    { cpu: M36, memory: chain("0x2007", "0x3007", "0x4007", "0x800005007"), accesses: [read("0x10")] },
    {
      results: [okRead("0x800005010", "0x0")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x800005027"]),
    },
  ),
  // Default MAXPHYADDR 52: bit 36 is an address bit: frame 0x1000005000.
  sdmCase(
    "4.5.4 with MAXPHYADDR 52 (default) bit 36 is an address bit",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x1000005007"), accesses: [read("0x40")] },
    {
      results: [okRead("0x1000005040", "0x0")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x1000005027"]),
    },
  ),
  // User write hitting a reserved bit: P|W|U|RSVD = 0xf.
  sdmCase(
    "4.7 RSVD: user write, reserved bit in PTE -> PF 0xf",
    { cpu: M36, memory: chain("0x2007", "0x3007", "0x4007", "0x1000005007"), accesses: [write("0x0", "0x1", 3)] },
    { results: [pf("0xf", "0x0")], memory: NONLEAF_A },
  ),
  // Fetch hitting a reserved bit with NXE=1: P|RSVD|I/D = 0x19.
  sdmCase(
    "4.7 RSVD: supervisor fetch, reserved bit in PTE, NXE=1 -> PF 0x19",
    { cpu: M36, memory: chain("0x2007", "0x3007", "0x4007", "0x1000005003"), accesses: [fetch("0x0")] },
    { results: [pf("0x19", "0x0")], memory: NONLEAF_A },
  ),
  // Reserved bit in a supervisor PTE, user read: P|U|RSVD = 0xd.
  sdmCase(
    "4.7 RSVD: user read, reserved bit in supervisor PTE -> PF 0xd",
    { cpu: M36, memory: chain("0x2007", "0x3007", "0x4007", "0x1000005003"), accesses: [read("0x0", 3)] },
    { results: [pf("0xd", "0x0")], memory: NONLEAF_A },
  ),
  // Reserved bit in PDE, PTE not present: walk stops at the PDE -> 0x9.
  sdmCase(
    "4.5.4 RSVD: reserved bit in PDE stops the walk before a not-present PTE -> PF 0x9",
    { cpu: M36, memory: chain("0x2007", "0x3007", "0x1000004007", "0x0"), accesses: [read("0x0")] },
    { results: [pf("0x9", "0x0")], memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"]) },
  ),
  // PS=1 in a PML4E is reserved: 0x2087 -> 0x9; no A.
  sdmCase(
    "4.5.4 RSVD: PS=1 in PML4E -> PF 0x9",
    { memory: chain("0x2087", "0x3007", "0x4007", "0x5007"), accesses: [read("0x0")] },
    { results: [pf("0x9", "0x0")], memory: [] },
  ),
  // 2 MiB leaf PDE 0x202087 (bit 13 set): bits 20:13 reserved -> 0x9; PDE no A.
  sdmCase(
    "4.5.4 RSVD: 2 MiB leaf with bit 13 set -> PF 0x9",
    { memory: chain("0x2007", "0x3007", "0x202087"), accesses: [read("0x0")] },
    { results: [pf("0x9", "0x0")], memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"]) },
  ),
  // 2 MiB leaf PDE 0x300087 (bit 20 set): reserved. User read: P|U|RSVD = 0xd.
  sdmCase(
    "4.5.4 RSVD: 2 MiB leaf with bit 20 set, user read -> PF 0xd",
    { memory: chain("0x2007", "0x3007", "0x300087"), accesses: [read("0x0", 3)] },
    { results: [pf("0xd", "0x0")], memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"]) },
  ),
  // 2 MiB leaf 0x201087: bit 12 is PAT, not reserved, not part of the frame
  // (frame = bits 51:21 = 0x200000). va 0x1234 -> pa 0x201234. PDE A -> 0x2010a7.
  sdmCase(
    "4.5.4 2 MiB leaf: bit 12 (PAT) is not reserved and not an address bit",
    { memory: chain("0x2007", "0x3007", "0x201087"), accesses: [read("0x1234")] },
    {
      results: [okRead("0x201234", "0x0")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x2010a7"]),
    },
  ),
  // 1 GiB leaf PDPTE 0x60000087 (bit 29 set): bits 29:13 reserved -> 0x9. The
  // PDPTE gets A first (QEMU choice): 0x600000a7.
  sdmCase(
    "4.5.4 RSVD: 1 GiB leaf with bit 29 set -> PF 0x9 (PDPTE still gets A)",
    { memory: chain("0x2007", "0x60000087"), accesses: [read("0x0")] },
    { results: [pf("0x9", "0x0")], memory: changes(["0x1000", "0x2027"], ["0x2000", "0x600000a7"]) },
  ),
  // 1 GiB leaf 0x40002087 (bit 13 set): reserved -> 0x9; PDPTE A 0x400020a7.
  sdmCase(
    "4.5.4 RSVD: 1 GiB leaf with bit 13 set -> PF 0x9 (PDPTE still gets A)",
    { memory: chain("0x2007", "0x40002087"), accesses: [read("0x0")] },
    { results: [pf("0x9", "0x0")], memory: changes(["0x1000", "0x2027"], ["0x2000", "0x400020a7"]) },
  ),
  // 1 GiB leaf 0x40001087: bit 12 is PAT; frame bits 51:30 = 0x40000000.
  // va 0x12345678 -> pa 0x52345678. PDPTE A -> 0x400010a7.
  sdmCase(
    "4.5.4 1 GiB leaf: bit 12 (PAT) is not reserved",
    { memory: chain("0x2007", "0x40001087"), accesses: [read("0x12345678", 0, 1)] },
    { results: [okRead("0x52345678", "0x0")], memory: changes(["0x1000", "0x2027"], ["0x2000", "0x400010a7"]) },
  ),
  // 1 GiB leaf with bit 36 set, MAXPHYADDR 36: bits 51:M are checked before A
  // is set (format: "present and has no reserved bit set") -> 0x9, PDPTE no A.
  sdmCase(
    "4.5.4 RSVD: 1 GiB leaf with bit MAXPHYADDR set -> PF 0x9, PDPTE gets no A",
    { cpu: M36, memory: chain("0x2007", "0x1040000087"), accesses: [read("0x0")] },
    { results: [pf("0x9", "0x0")], memory: changes(["0x1000", "0x2027"]) },
  ),
];
