/**
 * Page sizes, linear-address decomposition, CR3, canonical addresses and
 * 5-level paging.
 *
 * SDM Vol. 3A 4.5.4 (Figures 4-8..4-10): 4-level paging indexes the PML4 with
 * bits 47:39, the PDPT with 38:30, the PD with 29:21, the PT with 20:12; each
 * entry is at table + 8 * index. A PDPTE with PS=1 maps a 1 GiB page
 * (pa = PDPTE[51:30] << 30 | va[29:0]); a PDE with PS=1 a 2 MiB page
 * (pa = PDE[51:21] << 21 | va[20:0]); a PTE a 4 KiB page (pa = PTE[51:12] << 12
 * | va[11:0]). CR3[51:12] locates the PML4 (PWT/PCD bits 4:3 or, with
 * CR4.PCIDE=1, the PCID in bits 11:0 do not).
 * SDM 4.5.1/4.5.4: with CR4.LA57=1 (5-level paging) the PML5 at CR3 is indexed
 * with bits 56:48. SDM Vol. 1 3.3.7.1 / Vol. 3A 4.5: a linear address must be
 * canonical: bits 63:47 (4-level) or 63:56 (5-level) all equal; otherwise the
 * access raises #GP(0) (format: fault "GP", error code 0x0) before any walk.
 *
 * 5-level layout here: PML5 0x1000, PML4 0x2000, PDPT 0x3000, PD 0x4000, PT 0x5000, data 0x6000.
 */
import {
  sdmCase, chain, at, words, fill, read, write, fetch, ok, okRead, pf, gp, changes,
  cr4, LA57, PCIDE, type SdmCase,
} from "./builder.js";

const STD = chain("0x2007", "0x3007", "0x4007", "0x5007");
const STD_A = changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"]);
const L5 = { cr4: cr4(LA57) };
const L5_STD = chain("0x2007", "0x3007", "0x4007", "0x5007", "0x6007");
const L5_A = changes(
  ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"], ["0x5000", "0x6027"],
);

export const sizeCanonicalCases: SdmCase[] = [
  // va 0x8080604abc = 1<<39 | 2<<30 | 3<<21 | 4<<12 | 0xabc: PML4E at 0x1008,
  // PDPTE 0x2010, PDE 0x3018, PTE 0x4020 (-> frame 0x9000), pa 0x9abc. The
  // word at 0x9ab8 is 0x1234567800000000; bytes 0x9abc..0x9abf are its upper
  // half -> 4-byte value 0x12345678.
  sdmCase(
    "4.5.4 4 KiB translation with indices 1/2/3/4: pa = PTE frame | va[11:0]",
    {
      memory: [
        at(0x1008, "0x2007"), at(0x2010, "0x3007"), at(0x3018, "0x4007"), at(0x4020, "0x9007"),
        at(0x9ab8, "0x1234567800000000"),
      ],
      accesses: [read("0x8080604abc", 3, 4)],
    },
    {
      results: [okRead("0x9abc", "0x12345678")],
      memory: changes(["0x1008", "0x2027"], ["0x2010", "0x3027"], ["0x3018", "0x4027"], ["0x4020", "0x9027"]),
    },
  ),
  // 2 MiB: PDE 0x200087 (frame 0x200000). va 0x123456: PD index 0, offset
  // 0x123456 -> pa 0x323456. Word 0x323450 = 0xaabbccddeeff0011: bytes 6,7 =
  // 0xbb, 0xaa -> 2-byte value 0xaabb. PDE A -> 0x2000a7.
  sdmCase(
    "4.5.4 2 MiB translation: pa = PDE[51:21] | va[20:0]",
    {
      memory: [...chain("0x2007", "0x3007", "0x200087"), at(0x323450, "0xaabbccddeeff0011")],
      accesses: [read("0x123456", 0, 2)],
    },
    {
      results: [okRead("0x323456", "0xaabb")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x2000a7"]),
    },
  ),
  // 2 MiB with PD index 3: va 0x612345 -> bits 29:21 = 3 (PDE at 0x3018),
  // offset 0x12345; PDE 0x800087 -> pa 0x812345.
  sdmCase(
    "4.5.4 2 MiB translation with PD index 3",
    { memory: [...chain("0x2007", "0x3007"), at(0x3018, "0x800087")], accesses: [fetch("0x612345")] },
    {
      results: [ok("0x812345")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3018", "0x8000a7"]),
    },
  ),
  // 1 GiB: PDPTE 0x40000087 (frame 0x40000000). va 0x12345678: PDPT index 0,
  // offset 0x12345678 -> pa 0x52345678. PDPTE A -> 0x400000a7.
  sdmCase(
    "4.5.4 1 GiB translation: pa = PDPTE[51:30] | va[29:0]",
    { memory: chain("0x2007", "0x40000087"), accesses: [read("0x12345678", 3, 1)] },
    { results: [okRead("0x52345678", "0x0")], memory: changes(["0x1000", "0x2027"], ["0x2000", "0x400000a7"]) },
  ),
  // 1 GiB with PDPT index 3: va 0xc0000123 -> PDPTE at 0x2018 = 0x1c0000087
  // (frame 0x1c0000000) -> pa 0x1c0000123. The byte write sets A|D on the
  // 1 GiB leaf (0x1c00000e7) and stores 0x5 at byte 3 of the word 0x1c0000120
  // -> 0x5 << 24 = 0x5000000.
  sdmCase(
    "4.5.4 1 GiB translation with PDPT index 3 and a frame above 4 GiB",
    { memory: [at(0x1000, "0x2007"), at(0x2018, "0x1c0000087")], accesses: [write("0xc0000123", "0x5", 0, 1)] },
    {
      results: [ok("0x1c0000123")],
      memory: changes(["0x1000", "0x2027"], ["0x2018", "0x1c00000e7"], ["0x1c0000120", "0x5000000"]),
    },
  ),
  // Highest canonical lower-half address 0x00007fffffffffff = 2^47 - 1: bit 47
  // is 0, so the PML4 index (bits 47:39) is 0xff = 255 -> entry 0x1000 + 0x7f8
  // = 0x17f8; PDPT/PD/PT indices are 511 -> 0x2ff8, 0x3ff8, 0x4ff8; pa 0x5fff =
  // top byte of the word at 0x5ff8 (0xee00000000000000) -> 0xee.
  sdmCase(
    "4.5.4 va 0x00007fffffffffff: PML4 index 255, other indices 511, pa 0x5fff",
    {
      memory: [
        at(0x17f8, "0x2007"), at(0x2ff8, "0x3007"), at(0x3ff8, "0x4007"), at(0x4ff8, "0x5007"),
        at(0x5ff8, "0xee00000000000000"),
      ],
      accesses: [read("0x7fffffffffff", 3, 1)],
    },
    {
      results: [okRead("0x5fff", "0xee")],
      memory: changes(["0x17f8", "0x2027"], ["0x2ff8", "0x3027"], ["0x3ff8", "0x4027"], ["0x4ff8", "0x5027"]),
    },
  ),
  // 0xffff800000000000 is canonical (bits 63:47 all 1); PML4 index 256 ->
  // PML4E at 0x1800.
  sdmCase(
    "4.5 canonical high-half 0xffff800000000000 translates (PML4 index 256)",
    { memory: [at(0x1800, "0x2007"), ...chain(undefined, "0x3007", "0x4007", "0x5007")], accesses: [read("0xffff800000000000", 0, 1)] },
    {
      results: [okRead("0x5000", "0x0")],
      memory: changes(["0x1800", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"]),
    },
  ),
  // 0x0000800000000000: bit 47 = 1 but bits 63:48 = 0 -> non-canonical -> #GP(0),
  // no walk (the PML4E at 0x1800 would be present), no memory change.
  sdmCase(
    "4.5 4-level: non-canonical 0x0000800000000000 -> GP 0x0",
    { memory: [at(0x1800, "0x2007"), ...chain("0x2007", "0x3007", "0x4007", "0x5007")], accesses: [read("0x800000000000")] },
    { results: [gp()], memory: [] },
  ),
  // 0xffff7fffffffffff: bit 47 = 0, bits 63:48 = 1 -> non-canonical.
  sdmCase(
    "4.5 4-level: non-canonical 0xffff7fffffffffff -> GP 0x0",
    { memory: STD, accesses: [fetch("0xffff7fffffffffff", 3)] },
    { results: [gp()], memory: [] },
  ),
  // 0x0100000000000000 (bit 56) is non-canonical for 4-level paging; a write
  // that faults #GP stores nothing.
  sdmCase(
    "4.5 4-level: non-canonical write 0x0100000000000000 -> GP 0x0, nothing written",
    { memory: STD, accesses: [write("0x100000000000000", "0x1")] },
    { results: [gp()], memory: [] },
  ),
  // CR3 bits 4:3 (PCD, PWT) are not address bits: CR3 0x1018 -> PML4 at 0x1000.
  sdmCase(
    "4.5.2 CR3 PWT/PCD bits do not move the PML4 (CR3 0x1018)",
    { cpu: { cr3: "0x1018" }, memory: STD, accesses: [read("0x0", 0, 1)] },
    { results: [okRead("0x5000", "0x0")], memory: STD_A },
  ),
  // CR4.PCIDE=1: CR3 bits 11:0 are the PCID; CR3 0x1001 -> PML4 at 0x1000.
  sdmCase(
    "4.5.2 CR4.PCIDE=1: the PCID in CR3[11:0] does not move the PML4",
    { cpu: { cr3: "0x1001", cr4: cr4(PCIDE) }, memory: STD, accesses: [read("0x0", 0, 1)] },
    { results: [okRead("0x5000", "0x0")], memory: STD_A },
  ),

  // ---- 5-level paging ----
  // Five levels, all index 0: pa 0x6018; word 0x6018 of the fill.
  sdmCase(
    "4.5 LA57: 5-level translation through PML5E/PML4E/PDPTE/PDE/PTE",
    { cpu: L5, memory: [...L5_STD, fill(0x6000, "0x123456789abcdef")], accesses: [read("0x18")] },
    { results: [okRead("0x6018", "0x123456789abcdef")], memory: L5_A },
  ),
  // 0x0000800000000000 is canonical with LA57 (bits 63:56 = 0 = bit 56).
  // PML5 index (56:48) = 0; PML4 index (47:39) = 256 -> PML4E at 0x2800.
  sdmCase(
    "4.5 LA57: 0x0000800000000000 is canonical and translates (PML4 index 256)",
    {
      cpu: L5,
      memory: [at(0x1000, "0x2007"), at(0x2800, "0x3007"), at(0x3000, "0x4007"), at(0x4000, "0x5007"), at(0x5000, "0x6007")],
      accesses: [read("0x800000000000", 3, 1)],
    },
    {
      results: [okRead("0x6000", "0x0")],
      memory: changes(
        ["0x1000", "0x2027"], ["0x2800", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"], ["0x5000", "0x6027"],
      ),
    },
  ),
  // 0xff00000000000abc: bits 63:56 all 1 -> canonical. PML5 index = bits
  // 56:48 = 0x100 -> PML5E at 0x1800; other indices 0; pa 0x6abc.
  sdmCase(
    "4.5 LA57: 0xff00000000000abc is canonical, PML5 index 256",
    {
      cpu: L5,
      memory: [at(0x1800, "0x2007"), at(0x2000, "0x3007"), at(0x3000, "0x4007"), at(0x4000, "0x5007"), at(0x5000, "0x6007")],
      accesses: [fetch("0xff00000000000abc")],
    },
    {
      results: [ok("0x6abc")],
      memory: changes(
        ["0x1800", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"], ["0x5000", "0x6027"],
      ),
    },
  ),
  // 0xffff800000000000 with LA57: PML5 index = bits 56:48 = 0x1ff -> 0x1ff8;
  // PML4 index = 256 -> 0x2800.
  sdmCase(
    "4.5 LA57: 0xffff800000000000 uses PML5 index 511 and PML4 index 256",
    {
      cpu: L5,
      memory: [at(0x1ff8, "0x2007"), at(0x2800, "0x3007"), at(0x3000, "0x4007"), at(0x4000, "0x5007"), at(0x5000, "0x6007")],
      accesses: [write("0xffff800000000010", "0x1234", 0, 2)],
    },
    {
      results: [ok("0x6010")],
      memory: changes(
        ["0x1ff8", "0x2027"], ["0x2800", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"], ["0x5000", "0x6067"],
        ["0x6010", "0x1234"],
      ),
    },
  ),
  // 0x0100000000000000: bit 56 = 1 but bits 63:57 = 0 -> non-canonical -> GP.
  sdmCase(
    "4.5 LA57: non-canonical 0x0100000000000000 -> GP 0x0",
    { cpu: L5, memory: [at(0x1800, "0x2007"), ...L5_STD.slice(1)], accesses: [read("0x100000000000000")] },
    { results: [gp()], memory: [] },
  ),
  // 0xfe00000000000000: bits 63:57 = 1, bit 56 = 0 -> non-canonical -> GP.
  sdmCase(
    "4.5 LA57: non-canonical 0xfe00000000000000 -> GP 0x0",
    { cpu: L5, memory: L5_STD, accesses: [read("0xfe00000000000000", 3)] },
    { results: [gp()], memory: [] },
  ),
  // PML5E not present, user read: U = 0x4; nothing accessed.
  sdmCase(
    "4.5/4.7 LA57: not-present PML5E, user read -> PF 0x4",
    { cpu: L5, memory: chain("0x2006", "0x3007", "0x4007", "0x5007", "0x6007"), accesses: [read("0x80", 3)] },
    { results: [pf("0x4", "0x80")], memory: [] },
  ),
  // PS=1 in a PML5E is reserved -> 0x9.
  sdmCase(
    "4.5.4 LA57: PS=1 in PML5E is reserved -> PF 0x9",
    { cpu: L5, memory: chain("0x2087", "0x3007", "0x4007", "0x5007", "0x6007"), accesses: [read("0x0")] },
    { results: [pf("0x9", "0x0")], memory: [] },
  ),
  // Bit 36 in the PML5E with MAXPHYADDR 36 -> 0x9.
  sdmCase(
    "4.5.4 LA57: bit MAXPHYADDR set in PML5E -> PF 0x9",
    { cpu: { ...L5, maxphyaddr: 36 }, memory: chain("0x1000002007", "0x3007", "0x4007", "0x5007", "0x6007"), accesses: [read("0x0")] },
    { results: [pf("0x9", "0x0")], memory: [] },
  ),
  // U/S=0 in the PML5E: supervisor-mode address; user read -> 0x5; the four
  // non-leaf entries get A (PML5E 0x2003 -> 0x2023), the PTE not.
  sdmCase(
    "4.6.1 LA57: U/S=0 in PML5E, user read -> PF 0x5",
    { cpu: L5, memory: chain("0x2003", "0x3007", "0x4007", "0x5007", "0x6007"), accesses: [read("0x0", 3)] },
    {
      results: [pf("0x5", "0x0")],
      memory: changes(["0x1000", "0x2023"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"]),
    },
  ),
  // 5-level paging with a 2 MiB page: PD is the 4th table (0x4000); PDE 0x200087.
  sdmCase(
    "4.5 LA57: 2 MiB page under 5-level paging",
    { cpu: L5, memory: [...chain("0x2007", "0x3007", "0x4007", "0x200087"), words(0x201000, "0x0", "0xfeed")], accesses: [read("0x1008", 3, 2)] },
    {
      results: [okRead("0x201008", "0xfeed")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x2000a7"]),
    },
  ),
];
