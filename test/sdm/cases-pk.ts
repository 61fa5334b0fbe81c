/**
 * Protection keys: CR4.PKE (bit 22, PKRU, user-mode addresses) and CR4.PKS
 * (bit 24, IA32_PKRS, supervisor-mode addresses).
 *
 * SDM Vol. 3A 4.6.2: the key is bits 62:59 of the leaf entry (non-leaf
 * entries' bits 62:59 are ignored). For key i, ADi = bit 2i and WDi = bit
 * 2i+1 of PKRU / IA32_PKRS. Keys apply to data accesses only (never to
 * instruction fetches), PKRU to user-mode addresses (U/S=1 at every level),
 * IA32_PKRS to supervisor-mode addresses. ADi=1: no data access at all (any
 * CPL). WDi=1: user-mode writes are denied; supervisor-mode writes are denied
 * only if CR0.WP=1. With PKE=0 (PKS=0) the key bits are ignored.
 * SDM 4.7: PK (0x20) is set when the fault was a protection-key violation.
 * Format doc (QEMU choice): PK is set whenever the key denies the data access,
 * also when the paging rights deny it too; a user access to a supervisor-mode
 * address faults without PK.
 *
 * Key 1 in a leaf: 1 << 59 = 0x0800000000000000. PKRU AD1 = 0x4, WD1 = 0x8.
 */
import {
  sdmCase, chain, fill, read, write, fetch, ok, okRead, pf, changes,
  cr4, PKE, PKS, SMAP, CR0_WP0, type SdmCase,
} from "./builder.js";

const NONLEAF_A = changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]);
/** User page with key 1. */
const USER_K1 = chain("0x2007", "0x3007", "0x4007", "0x0800000000005007");
/** Supervisor page (leaf U/S=0) with key 1. */
const SUP_K1 = chain("0x2007", "0x3007", "0x4007", "0x0800000000005003");
const USER_K1_A = changes(
  ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x800000000005027"],
);
const SUP_K1_A = changes(
  ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x800000000005023"],
);

export const pkCases: SdmCase[] = [
  // PKE, AD1, user read of key-1 user page: P|U|PK = 0x1+0x4+0x20 = 0x25.
  sdmCase(
    "4.6.2 PKE: user read with PKRU.AD for the page's key -> PF 0x25",
    { cpu: { cr4: cr4(PKE), pkru: "0x4" }, memory: USER_K1, accesses: [read("0x0", 3)] },
    { results: [pf("0x25", "0x0")], memory: NONLEAF_A },
  ),
  // PKE, WD1, user write: P|W|U|PK = 0x27.
  sdmCase(
    "4.6.2 PKE: user write with PKRU.WD for the page's key -> PF 0x27",
    { cpu: { cr4: cr4(PKE), pkru: "0x8" }, memory: USER_K1, accesses: [write("0x0", "0x1", 3)] },
    { results: [pf("0x27", "0x0")], memory: NONLEAF_A },
  ),
  // WD only forbids writes: user read OK, leaf A: 0x0800000000005007 -> 0x800000000005027.
  sdmCase(
    "4.6.2 PKE: PKRU.WD does not forbid reads",
    { cpu: { cr4: cr4(PKE), pkru: "0x8" }, memory: [...USER_K1, fill(0x5000, "0x33")], accesses: [read("0x0", 3)] },
    { results: [okRead("0x5000", "0x33")], memory: USER_K1_A },
  ),
  // AD applies to supervisor data accesses to user-mode addresses too: P|PK = 0x21.
  sdmCase(
    "4.6.2 PKE: supervisor read of user page with PKRU.AD -> PF 0x21",
    { cpu: { cr4: cr4(PKE), pkru: "0x4" }, memory: USER_K1, accesses: [read("0x0")] },
    { results: [pf("0x21", "0x0")], memory: NONLEAF_A },
  ),
  // WD with CR0.WP=0: supervisor writes to user-mode addresses are allowed.
  // Leaf A|D: 0x800000000005067; data word 0x5000 = 0xabcd.
  sdmCase(
    "4.6.2 PKE: supervisor write to user page with PKRU.WD and CR0.WP=0 is allowed",
    { cpu: { cr4: cr4(PKE), pkru: "0x8", cr0: CR0_WP0 }, memory: USER_K1, accesses: [write("0x0", "0xabcd", 0, 2)] },
    {
      results: [ok("0x5000")],
      memory: changes(
        ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x800000000005067"],
        ["0x5000", "0xabcd"],
      ),
    },
  ),
  // WD with CR0.WP=1: supervisor write denied: P|W|PK = 0x23.
  sdmCase(
    "4.6.2 PKE: supervisor write to user page with PKRU.WD and CR0.WP=1 -> PF 0x23",
    { cpu: { cr4: cr4(PKE), pkru: "0x8" }, memory: USER_K1, accesses: [write("0x0", "0xabcd", 0, 2)] },
    { results: [pf("0x23", "0x0")], memory: NONLEAF_A },
  ),
  // Instruction fetches are exempt from protection keys.
  sdmCase(
    "4.6.2 PKE: instruction fetch is not subject to PKRU.AD",
    { cpu: { cr4: cr4(PKE), pkru: "0xc" }, memory: USER_K1, accesses: [fetch("0x0", 3)] },
    { results: [ok("0x5000")], memory: USER_K1_A },
  ),
  // PKE=0: key bits ignored, PKRU irrelevant: user write allowed.
  sdmCase(
    "4.6.2 PKE=0: protection keys are ignored",
    { cpu: { pkru: "0xc" }, memory: USER_K1, accesses: [write("0x8", "0x1", 3, 1)] },
    {
      results: [ok("0x5008")],
      memory: changes(
        ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x800000000005067"],
        ["0x5008", "0x1"],
      ),
    },
  ),
  // Only the page's own key counts: AD2|WD2 (bits 4,5 = 0x30) do not affect a key-1 page.
  sdmCase(
    "4.6.2 PKE: rights of another key (AD2) do not affect a key-1 page",
    { cpu: { cr4: cr4(PKE), pkru: "0x30" }, memory: USER_K1, accesses: [read("0x0", 3, 1)] },
    { results: [okRead("0x5000", "0x0")], memory: USER_K1_A },
  ),
  // Key 15: bits 62:59 = 1111 -> 0x7800000000005007; AD15 = bit 30 = 0x40000000 -> 0x25.
  sdmCase(
    "4.6.2 PKE: key 15 (bits 62:59 all set) with PKRU.AD15 -> PF 0x25",
    {
      cpu: { cr4: cr4(PKE), pkru: "0x40000000" },
      memory: chain("0x2007", "0x3007", "0x4007", "0x7800000000005007"),
      accesses: [read("0x0", 3)],
    },
    { results: [pf("0x25", "0x0")], memory: NONLEAF_A },
  ),
  // Key 0 (no key bits), AD0 = bit 0: user read -> 0x25.
  sdmCase(
    "4.6.2 PKE: key 0 with PKRU.AD0 -> PF 0x25",
    { cpu: { cr4: cr4(PKE), pkru: "0x1" }, memory: chain("0x2007", "0x3007", "0x4007", "0x5007"), accesses: [read("0x0", 3)] },
    { results: [pf("0x25", "0x0")], memory: NONLEAF_A },
  ),
  // Key 5 = 0x2800000000000000; AD5 = bit 10 = 0x400 -> 0x25.
  sdmCase(
    "4.6.2 PKE: key 5 with PKRU.AD5 (0x400) -> PF 0x25",
    {
      cpu: { cr4: cr4(PKE), pkru: "0x400" },
      memory: chain("0x2007", "0x3007", "0x4007", "0x2800000000005007"),
      accesses: [read("0x0", 3)],
    },
    { results: [pf("0x25", "0x0")], memory: NONLEAF_A },
  ),
  // Key denial together with paging denial: user write to read-only key-1 page
  // with WD1: paging says P|W|U, key adds PK -> 0x27.
  sdmCase(
    "4.6.2/4.7 PK set with paging denial: user write to read-only page with WD -> PF 0x27",
    {
      cpu: { cr4: cr4(PKE), pkru: "0x8" },
      memory: chain("0x2007", "0x3007", "0x4007", "0x0800000000005005"),
      accesses: [write("0x0", "0x1", 3)],
    },
    { results: [pf("0x27", "0x0")], memory: NONLEAF_A },
  ),
  // Same with AD1 instead of WD1: still 0x27.
  sdmCase(
    "4.6.2/4.7 PK set with paging denial: user write to read-only page with AD -> PF 0x27",
    {
      cpu: { cr4: cr4(PKE), pkru: "0x4" },
      memory: chain("0x2007", "0x3007", "0x4007", "0x0800000000005005"),
      accesses: [write("0x0", "0x1", 3)],
    },
    { results: [pf("0x27", "0x0")], memory: NONLEAF_A },
  ),
  // SMAP denial plus key denial: supervisor read of user page, AC=0, AD1 -> P|PK = 0x21.
  sdmCase(
    "4.6.2/4.7 PK set with SMAP denial: supervisor read, AC=0, PKRU.AD -> PF 0x21",
    { cpu: { cr4: cr4(PKE, SMAP), pkru: "0x4" }, memory: USER_K1, accesses: [read("0x0", 0, 8, false)] },
    { results: [pf("0x21", "0x0")], memory: NONLEAF_A },
  ),
  // The key comes from the leaf only: key bits in a PML4E are ignored. Leaf key 0,
  // PKRU AD1 only -> read OK. PML4E A: 0x0800000000002007 -> 0x800000000002027.
  sdmCase(
    "4.6.2 PKE: key bits in a non-leaf entry are ignored",
    {
      cpu: { cr4: cr4(PKE), pkru: "0x4" },
      memory: chain("0x0800000000002007", "0x3007", "0x4007", "0x5007"),
      accesses: [read("0x0", 3, 1)],
    },
    {
      results: [okRead("0x5000", "0x0")],
      memory: changes(["0x1000", "0x800000000002027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"]),
    },
  ),
  // PKRU does not apply to supervisor-mode addresses (PKS=0): read OK.
  sdmCase(
    "4.6.2 PKE: PKRU does not apply to supervisor pages",
    { cpu: { cr4: cr4(PKE), pkru: "0x4" }, memory: SUP_K1, accesses: [read("0x0", 0, 1)] },
    { results: [okRead("0x5000", "0x0")], memory: SUP_K1_A },
  ),

  // ---- PKS ----
  // PKS, IA32_PKRS AD1, supervisor read of key-1 supervisor page: P|PK = 0x21.
  sdmCase(
    "4.6.2 PKS: supervisor read of supervisor page with PKRS.AD -> PF 0x21",
    { cpu: { cr4: cr4(PKS), pkrs: "0x4" }, memory: SUP_K1, accesses: [read("0x0")] },
    { results: [pf("0x21", "0x0")], memory: NONLEAF_A },
  ),
  // PKS, WD1, WP=1, supervisor write: P|W|PK = 0x23.
  sdmCase(
    "4.6.2 PKS: supervisor write with PKRS.WD and CR0.WP=1 -> PF 0x23",
    { cpu: { cr4: cr4(PKS), pkrs: "0x8" }, memory: SUP_K1, accesses: [write("0x0", "0x1")] },
    { results: [pf("0x23", "0x0")], memory: NONLEAF_A },
  ),
  // PKS, WD1: reads allowed.
  sdmCase(
    "4.6.2 PKS: PKRS.WD does not forbid supervisor reads",
    { cpu: { cr4: cr4(PKS), pkrs: "0x8" }, memory: SUP_K1, accesses: [read("0x0", 0, 4)] },
    { results: [okRead("0x5000", "0x0")], memory: SUP_K1_A },
  ),
  // PKRS does not apply to user-mode addresses.
  sdmCase(
    "4.6.2 PKS: PKRS does not apply to user pages",
    { cpu: { cr4: cr4(PKS), pkrs: "0x4" }, memory: USER_K1, accesses: [read("0x0", 3, 1)] },
    { results: [okRead("0x5000", "0x0")], memory: USER_K1_A },
  ),
  // User read of supervisor page whose key has PKRS.AD: U/S fault without PK: 0x5.
  sdmCase(
    "4.6.2/4.7 user read of supervisor page with PKRS.AD -> PF 0x5 (no PK)",
    { cpu: { cr4: cr4(PKS), pkrs: "0x4" }, memory: SUP_K1, accesses: [read("0x0", 3)] },
    { results: [pf("0x5", "0x0")], memory: NONLEAF_A },
  ),
  // Fetch exempt from PKS as well: supervisor fetch, PKRS AD1|WD1 -> OK.
  sdmCase(
    "4.6.2 PKS: instruction fetch is not subject to PKRS.AD",
    { cpu: { cr4: cr4(PKS), pkrs: "0xc" }, memory: SUP_K1, accesses: [fetch("0x0")] },
    { results: [ok("0x5000")], memory: SUP_K1_A },
  ),
  // Supervisor-mode address because PDE U/S=0 (leaf U/S=1): PKRS decides, not
  // PKRU. PKE+PKS, pkru=0, pkrs AD1 -> 0x21. PDE A: 0x4003 -> 0x4023.
  sdmCase(
    "4.6.2 PKS: PDE U/S=0 makes a supervisor-mode address, PKRS.AD applies -> PF 0x21",
    {
      cpu: { cr4: cr4(PKE, PKS), pkru: "0x0", pkrs: "0x4" },
      memory: chain("0x2007", "0x3007", "0x4003", "0x0800000000005007"),
      accesses: [read("0x0")],
    },
    {
      results: [pf("0x21", "0x0")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4023"]),
    },
  ),
  // Same address with pkru AD1 and pkrs 0: PKRU does not apply -> OK.
  sdmCase(
    "4.6.2 PKE: PDE U/S=0 makes a supervisor-mode address, PKRU.AD does not apply",
    {
      cpu: { cr4: cr4(PKE, PKS), pkru: "0x4", pkrs: "0x0" },
      memory: chain("0x2007", "0x3007", "0x4003", "0x0800000000005007"),
      accesses: [read("0x0", 0, 1)],
    },
    {
      results: [okRead("0x5000", "0x0")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4023"], ["0x4000", "0x800000000005027"]),
    },
  ),
];
