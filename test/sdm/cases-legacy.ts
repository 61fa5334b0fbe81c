/**
 * Legacy paging modes (scenario format version 2): hand-derived cases for
 * what the legacy conformance corpus does not hold. Every expectation was
 * worked out by hand from the Intel SDM Vol. 3A (4.3 32-bit paging, 4.4 PAE
 * paging, 4.6 access rights, 4.7 error code, 4.8 A/D) and the format's own
 * rules (docs/scenario-format.md, version 2), never by running an engine.
 * Run by test/legacy-conformance.test.ts (not by sdm.test.ts, which runs the
 * long-mode cases on every engine).
 *
 * Registers: CR0 = 0x80010033 (PG, WP, NE, ET, MP, PE); CR4.PSE = 0x10,
 * CR4.PAE = 0x20, CR4.SMEP = 0x100000; EFER.NXE = 0x800, EFER.LME = 0
 * throughout (LMA = 0). CR3 = 0x1000 unless noted.
 *
 * 32-bit entries are 4 bytes: the entry at an address 4 mod 8 is the high
 * half of its qword, so memory lists them inside qwords (0x1ff8 holds the
 * PDEs at 0x1ff8 and 0x1ffc).
 */
import { sdmCase, at, words, fill, read, write, fetch, ok, okRead, pf, gp, changes, type SdmCase, type CpuInput } from "./builder.js";

const CR0 = "0x80010033";
/** 32-bit paging, with or without CR4.PSE, CR3 = 0x1000. */
const legacy32 = (cr4: string, over: Partial<CpuInput> = {}): CpuInput => ({ cr0: CR0, cr3: "0x1000", cr4, efer: "0x0", ...over });
/** PAE paging, CR3 = 0x1000 (the PDPT at 0x1000..0x101f). */
const pae = (over: Partial<CpuInput> = {}): CpuInput => ({ cr0: CR0, cr3: "0x1000", cr4: "0x20", efer: "0x0", ...over });

export const legacyCases: SdmCase[] = [
  // ---- PSE-36: 4 MiB PDE bits (M-20):13 are address bits (M-1):32, bits 21:(M-19) reserved, M = min(MAXPHYADDR, 40) ----

  // MAXPHYADDR 36 (M = 36): bits 16:13 are PA bits 35:32; bits 21:17 reserved.
  // PDE 0 (0x1000) = 0x420087: PS|U|W|P, frame bits 31:22 = 0x400000, bit 17 -> RSVD, P|RSVD = 0x9, no A.
  // PDE 1 (0x1004) = 0x600087: bit 21 -> RSVD; a user fetch: P|RSVD|U = 0xd (no I/D: no SMEP, 32-bit paging).
  // PDE 2 (0x1008) = 0x810087: bit 16 = PA bit 35 -> frame 0x800000 | 0x800000000 = 0x800800000;
  //   va 0x800123 -> pa 0x800800123, byte 3 of the qword at 0x800800120 = 0x55; the leaf gets A: 0x8100a7.
  sdmCase(
    "4.3 PSE-36 with MAXPHYADDR 36: 4 MiB PDE bits 21:17 reserved, bit 16 is physical-address bit 35",
    {
      cpu: legacy32("0x10", { maxphyaddr: 36 }),
      memory: [words(0x1000, "0x60008700420087", "0x810087"), at("0x800800120", "0x1122334455667788")],
      accesses: [read("0x0", 0, 1), fetch("0x400000", 3), read("0x800123", 0, 1)],
    },
    {
      results: [pf("0x9", "0x0"), pf("0xd", "0x400000"), okRead("0x800800123", "0x55")],
      memory: changes(["0x1008", "0x8100a7"]),
    },
  ),
  // MAXPHYADDR 39 (M = 39): bits 21:20 reserved, bit 19 is PA bit 38.
  // PDE 0 = 0x100087 (bit 20) -> RSVD 0x9. PDE 2 = 0x80087 (bit 19) -> frame 0x4000000000, va 0x800010 -> pa
  // 0x4000000010, unlisted memory reads 0; A -> 0x800a7.
  sdmCase(
    "4.3 PSE-36 with MAXPHYADDR 39: 4 MiB PDE bit 20 (address bit 39) reserved, bit 19 is address bit 38",
    {
      cpu: legacy32("0x10", { maxphyaddr: 39 }),
      memory: [words(0x1000, "0x100087", "0x80087")],
      accesses: [read("0x0", 0, 4), read("0x800010", 0, 4)],
    },
    { results: [pf("0x9", "0x0"), okRead("0x4000000010", "0x0")], memory: changes(["0x1008", "0x800a7"]) },
  ),
  // MAXPHYADDR 52 (M = min(52, 40) = 40): only bit 21 reserved; bit 20 is PA bit 39.
  // PDE 0 = 0x200087 -> RSVD; PDE 2 = 0x100087 -> frame 0x8000000000, va 0x800008 write (cpl 0) -> pa
  // 0x8000000008, stores 0xab; the leaf gets A|D: 0x1000e7.
  sdmCase(
    "4.3 PSE-36 with MAXPHYADDR 52: M = 40, only bit 21 reserved, bit 20 is address bit 39",
    {
      cpu: legacy32("0x10"),
      memory: [words(0x1000, "0x200087", "0x100087")],
      accesses: [write("0x8", "0x1", 0, 1), write("0x800008", "0xab", 0, 1), read("0x800008", 0, 1)],
    },
    {
      results: [pf("0xb", "0x8"), ok("0x8000000008"), okRead("0x8000000008", "0xab")],
      memory: changes(["0x1008", "0x1000e7"], ["0x8000000008", "0xab"]),
    },
  ),

  // ---- PS is ignored without CR4.PSE (4.3); PAE honours PS whatever CR4.PSE (4.4) ----

  // CR4.PSE = 0: PDE 0x2087 references the page table at 0x2000 (PS ignored); PTE 0x3007 -> pa 0x3010.
  // A on the PDE (0x20a7) and the PTE (0x3027).
  sdmCase(
    "4.3 without CR4.PSE the PS bit of a PDE is ignored: the PDE references a page table",
    {
      cpu: legacy32("0x0"),
      memory: [at(0x1000, "0x2087"), at(0x2000, "0x3007"), at(0x3010, "0x12345678")],
      accesses: [read("0x10", 3, 4)],
    },
    { results: [okRead("0x3010", "0x12345678")], memory: changes(["0x1000", "0x20a7"], ["0x2000", "0x3027"]) },
  ),
  // Same memory, CR4.PSE = 1: PDE 0x2087 maps a 4 MiB page; bit 13 is PA bit 32 (M = 40) -> frame
  // 0x100000000, pa 0x100000010 (unlisted: reads 0). The leaf gets A (0x20a7), the PTE is not used.
  sdmCase(
    "4.3 with CR4.PSE the same PDE maps a 4 MiB page (bit 13 = physical-address bit 32)",
    {
      cpu: legacy32("0x10"),
      memory: [at(0x1000, "0x2087"), at(0x2000, "0x3007"), at(0x3010, "0x12345678")],
      accesses: [read("0x10", 3, 4)],
    },
    { results: [okRead("0x100000010", "0x0")], memory: changes(["0x1000", "0x20a7"]) },
  ),
  // PAE, CR4.PSE = 0: PDPTE 0 = 0x2001; PDE 0x200087 maps a 2 MiB page at 0x200000; pa 0x200010; A -> 0x2000a7.
  sdmCase(
    "4.4 PAE: PS in a PDE maps a 2 MiB page even with CR4.PSE = 0",
    {
      cpu: pae(),
      memory: [at(0x1000, "0x2001"), at(0x2000, "0x200087"), at(0x200010, "0x5a")],
      accesses: [read("0x10", 3, 1)],
    },
    { results: [okRead("0x200010", "0x5a")], memory: changes(["0x2000", "0x2000a7"]) },
  ),

  // ---- PAE: the PDPTE registers, loaded before each access ----

  // PDPTE 0 = 0x2001 -> PD 0x2000 [0] = 0x3007 -> PT 0x3000 [0] = 0x1003: va 0x0 maps the PDPT itself
  // (supervisor, writable). PDPTE 1 = 0x4001 -> PD 0x4000 [0] = 0x200083 (2 MiB at 0x200000).
  // 1: read 0x40000010 -> pa 0x200010 (0xaaaa); A on the 2 MiB PDE: 0x2000a3.
  // 2: write 0x7001 at va 0x8 -> pa 0x1008 = PDPTE 1 (PDE 0x3027 A; PTE 0x1063 A|D).
  // 3: read 0x40000010: the PDPTEs are reloaded, PDPTE 1 = 0x7001 -> PD 0x7000 [0] = 0x400083 -> pa
  //    0x400010 (0xbbbb); A: 0x4000a3.
  // 4: read va 0x8 -> pa 0x1008, the new PDPTE 1 value 0x7001; no flag changes.
  sdmCase(
    "4.4.1 PAE: a PDPTE changed by an earlier access's write takes effect at the next access (reload per access)",
    {
      cpu: pae(),
      memory: [
        words(0x1000, "0x2001", "0x4001"),
        at(0x2000, "0x3007"),
        at(0x3000, "0x1003"),
        at(0x4000, "0x200083"),
        at(0x7000, "0x400083"),
        at(0x200010, "0xaaaa"),
        at(0x400010, "0xbbbb"),
      ],
      accesses: [read("0x40000010"), write("0x8", "0x7001"), read("0x40000010"), read("0x8")],
    },
    {
      results: [okRead("0x200010", "0xaaaa"), ok("0x1008"), okRead("0x400010", "0xbbbb"), okRead("0x1008", "0x7001")],
      memory: changes(["0x1008", "0x7001"], ["0x2000", "0x3027"], ["0x3000", "0x1063"], ["0x4000", "0x2000a3"], ["0x7000", "0x4000a3"]),
    },
  ),
  // PDPTE 0 = 0x1001: the PD is the PDPT itself; PDPTE 1 = 0x5001.
  // 1: read 8 bytes at 0xffc (crosses into va 0x1000). Page 1: PDE 0 (at 0x1000, 0x1001) references a PT
  //    at 0x1000 and gets A -> memory 0x1021 (bit 5: reserved in a PDPTE!); PTE 0 is now 0x1021 (A already):
  //    pa 0x1ffc, bytes 55 66 77 88 (high half of 0x8877665544332211). Page 2 (va 0x1000) still uses the
  //    loaded PDPTE 0 = 0x1001 (no #GP inside the access): PDE 0x1021, PTE 1 (0x1008) = 0x5001 -> pa 0x5000,
  //    bytes d4 c3 b2 a1; the PTE gets A -> 0x5021. value 0xa1b2c3d488776655.
  // 2, 3: the PDPTE load before each finds PDPTE 0 = 0x1021 present with bit 5 -> #GP(0), nothing changes.
  sdmCase(
    "4.4.1 PAE: the loaded PDPTEs hold for the whole access; a reserved bit a walk put into a PDPTE makes the next access #GP",
    {
      cpu: pae(),
      memory: [words(0x1000, "0x1001", "0x5001"), at(0x1ff8, "0x8877665544332211"), at(0x5000, "0xa1b2c3d4")],
      accesses: [read("0xffc"), read("0x0", 0, 1), write("0x1000", "0x0", 0, 1)],
    },
    {
      results: [okRead("0x1ffc", "0xa1b2c3d488776655"), gp(), gp()],
      memory: changes(["0x1000", "0x1021"], ["0x1008", "0x5021"]),
    },
  ),
  // PDPTE 0 = 0x2001 (valid) -> PD 0x2000 [0] = 0x3007 -> PT [0] = 0x4007; PDPTE 2 = 0x2003 (bit 1 reserved).
  // Every access is #GP(0), also those through the valid PDPTE 0, and nothing changes: memory [].
  sdmCase(
    "4.4.1 PAE: a present PDPTE with a reserved bit makes every access #GP(0) and changes nothing",
    {
      cpu: pae({ efer: "0x800" }),
      memory: [words(0x1000, "0x2001", "0x0", "0x2003"), at(0x2000, "0x3007"), at(0x3000, "0x4007"), fill(0x4000, "0x1")],
      accesses: [read("0x0", 3), write("0x10", "0xff", 0, 1), fetch("0x20"), read("0x80000000")],
    },
    { results: [gp(), gp(), gp(), gp()], memory: [] },
  ),
  ...(
    [
      ["bit 2", "0x2005", 52],
      ["bit 5 (no A flag in a PDPTE)", "0x2021", 52],
      ["bit 6", "0x2041", 52],
      ["bit 7", "0x2081", 52],
      ["bit 8", "0x2101", 52],
      ["bit 36 = MAXPHYADDR", "0x1000002001", 36],
      ["bit 51 above MAXPHYADDR 40", "0x8000000002001", 40],
      ["bit 52 (reserved though MAXPHYADDR is 52)", "0x10000000002001", 52],
      ["bit 63 (no XD in a PDPTE, even with EFER.NXE)", "0x8000000000002001", 52],
    ] as const
  ).map(([what, pdpte, m]) =>
    sdmCase(
      `4.4.1 PAE: PDPTE reserved ${what} -> #GP(0)`,
      {
        cpu: pae({ efer: "0x800", maxphyaddr: m }),
        memory: [words(0x1000, "0x0", "0x0", "0x0", pdpte), at(0x2000, "0x3007")],
        accesses: [read("0x0")],
      },
      { results: [gp()], memory: [] },
    ),
  ),
  // PDPTE 0 = 0x2e19: P with PWT, PCD and bits 11:9 (not reserved) -> loads fine. PDPTE 1 =
  // 0x8000000000000ffe: not present, so its other bits do not matter. Read va 0x0 -> PD 0x3007 (A ->
  // 0x3027) -> PTE 0x4007 (A -> 0x4027) -> pa 0x4000; read 0x40000000 -> PF, P = 0: error code 0x0.
  sdmCase(
    "4.4.1 PAE: PDPTE bits 4:3 and 11:9 are not reserved; a not-present PDPTE loads whatever its other bits",
    {
      cpu: pae(),
      memory: [words(0x1000, "0x2e19", "0x8000000000000ffe"), at(0x2000, "0x3007"), at(0x3000, "0x4007")],
      accesses: [read("0x0", 0, 1), read("0x40000000", 0, 1)],
    },
    { results: [okRead("0x4000", "0x0"), pf("0x0", "0x40000000")], memory: changes(["0x2000", "0x3027"], ["0x3000", "0x4027"]) },
  ),

  // ---- Linear addresses wrap at 4 GiB ----

  // 32-bit paging. Page 0xfffff000: PDE 1023 at 0x1ffc (high half of 0x1ff8) = 0x2007 -> PTE 1023 at 0x2ffc
  // = 0x3007 -> pa 0x3ffe, bytes aa bb. Page 0: PDE 0 = 0x4007 -> PTE 0 = 0x5007 -> bytes cc dd.
  // A on all four entries: 0x1ff8 -> 0x202700000000, 0x2ff8 -> 0x302700000000, 0x1000 -> 0x4027, 0x4000 -> 0x5027.
  sdmCase(
    "4.3 a 4-byte read at 0xfffffffe wraps to linear 0 (32-bit paging)",
    {
      cpu: legacy32("0x0"),
      memory: [
        at(0x1000, "0x4007"),
        at(0x1ff8, "0x200700000000"),
        at(0x2ff8, "0x300700000000"),
        at(0x3ff8, "0xbbaa000000000000"),
        at(0x4000, "0x5007"),
        at(0x5000, "0xddcc"),
      ],
      accesses: [read("0xfffffffe", 3, 4)],
    },
    {
      results: [okRead("0x3ffe", "0xddccbbaa")],
      memory: changes(["0x1000", "0x4027"], ["0x1ff8", "0x202700000000"], ["0x2ff8", "0x302700000000"], ["0x4000", "0x5027"]),
    },
  ),
  // PAE. Page 0xfffff000: PDPTE 3 (0x1018) = 0x2001 -> PDE 511 (0x2ff8) = 0x3007 -> PTE 511 (0x3ff8) =
  // 0x4007 -> pa 0x4ffc. Page 0: PDPTE 0 not present -> PF W|U = 0x6, CR2 = 0x0. The first page was
  // translated: PDE A (0x3027), PTE A|D (0x4067); no byte written.
  sdmCase(
    "4.4 a write that wraps at 4 GiB onto a not-present page 0 faults with CR2 = 0 after the first page's A/D (PAE)",
    {
      cpu: pae(),
      memory: [words(0x1000, "0x0", "0x0", "0x0", "0x2001"), at(0x2ff8, "0x3007"), at(0x3ff8, "0x4007")],
      accesses: [write("0xfffffffc", "0x1122334455667788", 3)],
    },
    { results: [pf("0x6", "0x0")], memory: changes(["0x2ff8", "0x3027"], ["0x3ff8", "0x4067"]) },
  ),
  // Paging off: linear = physical, also across the wrap: bytes at 0xffffffff (0x11) and 0x0 (0x22).
  sdmCase(
    "no paging: a 2-byte read at 0xffffffff wraps to physical 0",
    {
      cpu: { cr0: "0x33", cr3: "0x0", cr4: "0x0", efer: "0x0" },
      memory: [at(0x0, "0x22"), at("0xfffffff8", "0x1100000000000000")],
      accesses: [read("0xffffffff", 3, 2), write("0xffffffff", "0x4433", 3, 2)],
    },
    { results: [okRead("0xffffffff", "0x2211"), ok("0xffffffff")], memory: changes(["0x0", "0x44"], ["0xfffffff8", "0x3300000000000000"]) },
  ),

  // ---- I/D in the error code (4.7): SMEP, or PAE with EFER.NXE ----

  // Not-present PDE, fetch at CPL 0: 32-bit paging with NXE -> 0x0; with SMEP -> 0x10; PAE with NXE -> 0x10.
  sdmCase(
    "4.7 32-bit paging: EFER.NXE does not set I/D for a faulting fetch",
    { cpu: legacy32("0x10", { efer: "0x800" }), memory: [], accesses: [fetch("0x1234")] },
    { results: [pf("0x0", "0x1234")], memory: [] },
  ),
  sdmCase(
    "4.7 32-bit paging: CR4.SMEP sets I/D for a faulting fetch",
    { cpu: legacy32("0x100000"), memory: [], accesses: [fetch("0x1234", 3)] },
    { results: [pf("0x14", "0x1234")], memory: [] },
  ),
  sdmCase(
    "4.7 PAE paging: EFER.NXE sets I/D for a faulting fetch",
    { cpu: pae({ efer: "0x800" }), memory: [at(0x1000, "0x2001")], accesses: [fetch("0x1234")] },
    { results: [pf("0x10", "0x1234")], memory: [] },
  ),

  // ---- PAE reserved bits of PDEs and PTEs (Tables 4-9..4-11) ----

  // MAXPHYADDR 52: PTE bit 52 is reserved with PAE paging (long mode would ignore it): P|RSVD = 0x9;
  // the PDE above gets A. PTE bit 63 with EFER.NXE = 1 is XD: read fine (PTE A), fetch -> P|I/D = 0x11.
  sdmCase(
    "4.4 PAE: PTE bit 52 is reserved even with MAXPHYADDR 52; bit 63 is XD with EFER.NXE",
    {
      cpu: pae({ efer: "0x800" }),
      memory: [at(0x1000, "0x2001"), at(0x2000, "0x3007"), words(0x3000, "0x10000000004007", "0x8000000000005007")],
      accesses: [read("0x0", 0, 1), read("0x1000", 0, 1), fetch("0x1000")],
    },
    {
      results: [pf("0x9", "0x0"), okRead("0x5000", "0x0"), pf("0x11", "0x1000")],
      memory: changes(["0x2000", "0x3027"], ["0x3008", "0x8000000000005027"]),
    },
  ),
];
