/**
 * SMEP (CR4 bit 20) and SMAP (CR4 bit 21).
 *
 * SDM Vol. 3A 4.6.1: with CR4.SMEP=1, supervisor-mode instruction fetches may
 * not come from user-mode addresses (U/S=1 at every level). With CR4.SMAP=1,
 * explicit supervisor-mode data accesses to user-mode addresses are not
 * allowed when EFLAGS.AC=0; with AC=1 reads are allowed and writes follow
 * CR0.WP (R/W=1 required at every level if WP=1). SMAP does not concern
 * instruction fetches; neither concerns CPL-3 accesses.
 * SDM 4.7: such violations have P=1; W/R, U/S (0: supervisor), I/D as usual.
 */
import {
  sdmCase, chain, fill, read, write, fetch, ok, okRead, pf, changes,
  cr4, SMEP, SMAP, EFER_NO_NXE, type SdmCase,
} from "./builder.js";

const NONLEAF_A = changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]);
const ALL_A = changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"]);
const USER = chain("0x2007", "0x3007", "0x4007", "0x5007");

export const smepSmapCases: SdmCase[] = [
  // SMEP: supervisor fetch from a user page: P|I/D = 0x11.
  sdmCase(
    "4.6.1 SMEP: supervisor fetch from user page -> PF 0x11",
    { cpu: { cr4: cr4(SMEP) }, memory: USER, accesses: [fetch("0x40")] },
    { results: [pf("0x11", "0x40")], memory: NONLEAF_A },
  ),
  // SMEP with NXE=0: I/D still reported because SMEP=1 -> 0x11.
  sdmCase(
    "4.6.1/4.7 SMEP with NXE=0: supervisor fetch from user page -> PF 0x11",
    { cpu: { cr4: cr4(SMEP), efer: EFER_NO_NXE }, memory: USER, accesses: [fetch("0x40")] },
    { results: [pf("0x11", "0x40")], memory: NONLEAF_A },
  ),
  // SMEP: supervisor fetch from supervisor page (PTE U/S=0) is fine; PTE 0x5003 -> 0x5023.
  sdmCase(
    "4.6.1 SMEP: supervisor fetch from supervisor page is allowed",
    { cpu: { cr4: cr4(SMEP) }, memory: chain("0x2007", "0x3007", "0x4007", "0x5003"), accesses: [fetch("0x40")] },
    {
      results: [ok("0x5040")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5023"]),
    },
  ),
  // U/S=0 only in the PML4E makes it a supervisor-mode address: SMEP allows.
  sdmCase(
    "4.6.1 SMEP: U/S=0 only in PML4E makes a supervisor-mode address, fetch allowed",
    { cpu: { cr4: cr4(SMEP) }, memory: chain("0x2003", "0x3007", "0x4007", "0x5007"), accesses: [fetch("0x40")] },
    {
      results: [ok("0x5040")],
      memory: changes(["0x1000", "0x2023"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"]),
    },
  ),
  // SMEP does not concern user fetches.
  sdmCase(
    "4.6.1 SMEP: user fetch from user page is allowed",
    { cpu: { cr4: cr4(SMEP) }, memory: USER, accesses: [fetch("0x40", 3)] },
    { results: [ok("0x5040")], memory: ALL_A },
  ),
  // SMEP does not concern data reads (SMAP off).
  sdmCase(
    "4.6.1 SMEP: supervisor data read of user page is allowed (SMAP=0)",
    { cpu: { cr4: cr4(SMEP) }, memory: [...USER, fill(0x5000, "0x5a")], accesses: [read("0x40")] },
    { results: [okRead("0x5040", "0x5a")], memory: ALL_A },
  ),

  // SMAP, AC=0, supervisor read of user page: P = 0x1.
  sdmCase(
    "4.6.1 SMAP: supervisor read of user page with AC=0 -> PF 0x1",
    { cpu: { cr4: cr4(SMAP) }, memory: USER, accesses: [read("0x40", 0, 8, false)] },
    { results: [pf("0x1", "0x40")], memory: NONLEAF_A },
  ),
  // SMAP, AC=0, supervisor write to (writable) user page: P|W = 0x3.
  sdmCase(
    "4.6.1 SMAP: supervisor write to user page with AC=0 -> PF 0x3",
    { cpu: { cr4: cr4(SMAP) }, memory: USER, accesses: [write("0x40", "0x1", 0, 8, false)] },
    { results: [pf("0x3", "0x40")], memory: NONLEAF_A },
  ),
  // SMAP, AC=1: read allowed.
  sdmCase(
    "4.6.1 SMAP: supervisor read of user page with AC=1 is allowed",
    { cpu: { cr4: cr4(SMAP) }, memory: [...USER, fill(0x5000, "0x5a")], accesses: [read("0x40", 0, 8, true)] },
    { results: [okRead("0x5040", "0x5a")], memory: ALL_A },
  ),
  // SMAP, AC=1, WP=1, writable user page: allowed; leaf A|D -> 0x5067; word 0x5040 = 0x99.
  sdmCase(
    "4.6.1 SMAP: supervisor write to writable user page with AC=1 is allowed",
    { cpu: { cr4: cr4(SMAP) }, memory: USER, accesses: [write("0x40", "0x99", 0, 2, true)] },
    {
      results: [ok("0x5040")],
      memory: changes(
        ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5067"], ["0x5040", "0x99"],
      ),
    },
  ),
  // SMAP, AC=1, WP=1, read-only user page: R/W=0 forbids -> P|W = 0x3.
  sdmCase(
    "4.6.1 SMAP: AC=1 supervisor write to read-only user page with WP=1 -> PF 0x3",
    {
      cpu: { cr4: cr4(SMAP) },
      memory: chain("0x2007", "0x3007", "0x4007", "0x5005"),
      accesses: [write("0x40", "0x1", 0, 8, true)],
    },
    { results: [pf("0x3", "0x40")], memory: NONLEAF_A },
  ),
  // SMAP does not concern fetches: SMAP=1, SMEP=0, AC=0, supervisor fetch from user page OK.
  sdmCase(
    "4.6.1 SMAP does not affect instruction fetch (SMEP=0): allowed",
    { cpu: { cr4: cr4(SMAP) }, memory: USER, accesses: [fetch("0x40", 0, false)] },
    { results: [ok("0x5040")], memory: ALL_A },
  ),
  // SMAP+SMEP, AC=1: the fetch is governed by SMEP alone -> P|I/D = 0x11.
  sdmCase(
    "4.6.1 SMAP+SMEP: supervisor fetch from user page faults by SMEP even with AC=1 -> PF 0x11",
    { cpu: { cr4: cr4(SMAP, SMEP) }, memory: USER, accesses: [fetch("0x40", 0, true)] },
    { results: [pf("0x11", "0x40")], memory: NONLEAF_A },
  ),
  // SMAP does not concern CPL-3 accesses.
  sdmCase(
    "4.6.1 SMAP: user read of user page with AC=0 is allowed",
    { cpu: { cr4: cr4(SMAP) }, memory: [...USER, fill(0x5000, "0x5a")], accesses: [read("0x40", 3, 1, false)] },
    { results: [okRead("0x5040", "0x5a")], memory: ALL_A },
  ),
  // SMAP concerns user-mode addresses only: PDE U/S=0 makes a supervisor-mode address.
  sdmCase(
    "4.6.1 SMAP: supervisor read of supervisor-mode address (PDE U/S=0) is allowed",
    {
      cpu: { cr4: cr4(SMAP) },
      memory: [...chain("0x2007", "0x3007", "0x4003", "0x5007"), fill(0x5000, "0x5a")],
      accesses: [read("0x40", 0, 1, false)],
    },
    {
      results: [okRead("0x5040", "0x5a")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4023"], ["0x4000", "0x5027"]),
    },
  ),
];
