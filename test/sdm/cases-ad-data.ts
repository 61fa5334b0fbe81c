/**
 * Accessed/dirty flags, data stores and accesses crossing a page boundary.
 *
 * SDM Vol. 3A 4.8: whenever the processor uses a paging-structure entry as
 * part of a linear-address translation it sets the entry's accessed flag
 * (bit 5) if clear; whenever there is a write to a linear address it sets the
 * dirty flag (bit 6) of the entry that maps the page (the leaf) if clear.
 * Non-leaf entries have no dirty flag (bit 6 ignored). A/D are never cleared
 * by the processor.
 * QEMU choices (format doc): non-leaf entries get A even when the access then
 * faults; a 1 GiB leaf gets A even when the access faults; a 2 MiB / 4 KiB leaf
 * gets A (and D) only when the access is allowed. An access crossing a page
 * boundary translates the first page (setting its flags), then the second;
 * if the second faults, CR2 = the second page's first address and no byte is
 * written. Writes store `value` little-endian in `size` bytes; the output
 * memory lists every 8-byte word whose final value differs from its initial
 * value, ascending.
 */
import {
  sdmCase, chain, at, words, fill, read, write, fetch, ok, okRead, pf, changes, type SdmCase,
} from "./builder.js";

const STD = chain("0x2007", "0x3007", "0x4007", "0x5007");
const NONLEAF_A = changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"]);

export const adDataCases: SdmCase[] = [
  // Read sets A at all four levels; nothing else changes.
  sdmCase(
    "4.8 a read sets A in every entry of the walk, and no D",
    { memory: [...STD, fill(0x5000, "0x0101010101010101")], accesses: [read("0x0")] },
    {
      results: [okRead("0x5000", "0x101010101010101")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"]),
    },
  ),
  // All entries already have A: a read changes nothing -> memory [].
  sdmCase(
    "4.8 entries already accessed: a read changes no memory word",
    { memory: chain("0x2027", "0x3027", "0x4027", "0x5027"), accesses: [read("0x0", 3)] },
    { results: [okRead("0x5000", "0x0")], memory: [] },
  ),
  // Write: A on non-leaf entries, A|D on the PTE (0x5067) only; data word 0x5000.
  sdmCase(
    "4.8 a write sets D on the leaf PTE only",
    { memory: STD, accesses: [write("0x0", "0x8877665544332211", 3)] },
    {
      results: [ok("0x5000")],
      memory: changes(
        ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5067"],
        ["0x5000", "0x8877665544332211"],
      ),
    },
  ),
  // PTE with D already set but A clear (0x5047): a read sets A -> 0x5067.
  sdmCase(
    "4.8 a read sets A on a leaf whose D is already set",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x5047"), accesses: [read("0x0", 0, 1)] },
    {
      results: [okRead("0x5000", "0x0")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5067"]),
    },
  ),
  // Read then write: the final PTE is 0x5067 (A from the read, D from the write).
  sdmCase(
    "4.8 read then write: leaf ends with A and D",
    { memory: [...STD, fill(0x5000, "0xcccccccccccccccc")], accesses: [read("0x8", 3), write("0x8", "0x0", 3, 1)] },
    {
      results: [okRead("0x5008", "0xcccccccccccccccc"), ok("0x5008")],
      memory: changes(
        ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5067"],
        ["0x5008", "0xcccccccccccccc00"],
      ),
    },
  ),
  // Fetch: A everywhere, no D.
  sdmCase(
    "4.8 a fetch sets A but not D",
    { memory: STD, accesses: [fetch("0x0")] },
    {
      results: [ok("0x5000")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"]),
    },
  ),
  // A successful read, then a faulting user write to the read-only page: the
  // leaf keeps only the read's A (0x5025), no D.
  sdmCase(
    "4.8 a faulting write sets no D; the earlier read's A stays",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x5005"), accesses: [read("0x0", 3, 1), write("0x0", "0x1", 3, 1)] },
    {
      results: [okRead("0x5000", "0x0"), pf("0x7", "0x0")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5025"]),
    },
  ),
  // Faulting access on a 4 KiB leaf: leaf A not set, non-leaf A set.
  sdmCase(
    "4.8 faulting access: 4 KiB leaf gets no A, non-leaf entries do",
    { memory: chain("0x2007", "0x3007", "0x4007", "0x5005"), accesses: [write("0x0", "0x1", 3, 1)] },
    { results: [pf("0x7", "0x0")], memory: NONLEAF_A },
  ),
  // Faulting user write on a read-only 2 MiB leaf (0x200085): PDE gets no A.
  sdmCase(
    "4.8 faulting access: 2 MiB leaf gets no A",
    { memory: chain("0x2007", "0x3007", "0x200085"), accesses: [write("0x0", "0x1", 3, 1)] },
    { results: [pf("0x7", "0x0")], memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"]) },
  ),
  // Faulting user write on a read-only 1 GiB leaf (0x40000085): the PDPTE gets
  // A (QEMU choice) -> 0x400000a5, but no D.
  sdmCase(
    "4.8 faulting access: 1 GiB leaf still gets A (no D)",
    { memory: chain("0x2007", "0x40000085"), accesses: [write("0x0", "0x1", 3, 1)] },
    { results: [pf("0x7", "0x0")], memory: changes(["0x1000", "0x2027"], ["0x2000", "0x400000a5"]) },
  ),
  // Write to a 2 MiB page: D on the PDE leaf (0x2000e7); data at 0x200010.
  sdmCase(
    "4.8 a write to a 2 MiB page sets D in the PDE",
    { memory: chain("0x2007", "0x3007", "0x200087"), accesses: [write("0x10", "0x1")] },
    {
      results: [ok("0x200010")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x2000e7"], ["0x200010", "0x1"]),
    },
  ),
  // Write to a 1 GiB page: D on the PDPTE (0x400000e7); data at 0x40000008.
  sdmCase(
    "4.8 a write to a 1 GiB page sets D in the PDPTE",
    { memory: chain("0x2007", "0x40000087"), accesses: [write("0x8", "0x5", 3, 4)] },
    {
      results: [ok("0x40000008")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x400000e7"], ["0x40000008", "0x5"]),
    },
  ),
  // Writing the value already in memory: the data word is unchanged and not
  // listed; only the flags are.
  sdmCase(
    "format: a write of the same value leaves the data word out of memory changes",
    { memory: [...STD, fill(0x5000, "0xcccccccccccccccc")], accesses: [write("0x0", "0xcccccccccccccccc")] },
    {
      results: [ok("0x5000")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5067"]),
    },
  ),

  // ---- data stores ----
  // Write 4 bytes 0xdeadbeef at 0x10 into 0xcc.. fill: word 0x5010 becomes
  // 0xccccccccdeadbeef; read 8 at 0x10 gives it; read 2 at 0x12 = bytes
  // 0xad,0xde -> 0xdead; read 1 at 0x13 -> 0xde; a byte write 0x11 at 0x17
  // makes the word 0x11ccccccdeadbeef.
  sdmCase(
    "format: writes store little-endian in size bytes and are read back",
    {
      memory: [...STD, fill(0x5000, "0xcccccccccccccccc")],
      accesses: [
        write("0x10", "0xdeadbeef", 3, 4),
        read("0x10", 3, 8),
        read("0x12", 3, 2),
        read("0x13", 3, 1),
        write("0x17", "0x11", 3, 1),
        read("0x10", 3, 8),
      ],
    },
    {
      results: [
        ok("0x5010"),
        okRead("0x5010", "0xccccccccdeadbeef"),
        okRead("0x5012", "0xdead"),
        okRead("0x5013", "0xde"),
        ok("0x5017"),
        okRead("0x5010", "0x11ccccccdeadbeef"),
      ],
      memory: changes(
        ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5067"],
        ["0x5010", "0x11ccccccdeadbeef"],
      ),
    },
  ),
  // A 2-byte write at 0x7 straddles two 8-byte words (same page): byte 0xef at
  // 0x5007 (top byte of word 0x5000 -> 0xef00000000000000), 0xbe at 0x5008
  // (word 0x5008 -> 0xbe). Read back 2 at 0x7 -> 0xbeef.
  sdmCase(
    "format: a write straddling two 8-byte words within a page",
    { memory: STD, accesses: [write("0x7", "0xbeef", 0, 2), read("0x7", 0, 2)] },
    {
      results: [ok("0x5007"), okRead("0x5007", "0xbeef")],
      memory: changes(
        ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5067"],
        ["0x5000", "0xef00000000000000"], ["0x5008", "0xbe"],
      ),
    },
  ),
  // The page table is itself mapped (PTE 1 at 0x4008 = 0x4007 maps va 0x1000
  // to the PT). Writing 0x6007 at va 0x1000 rewrites PTE 0; the next access
  // walks memory again (TLBs flushed) and reaches frame 0x6000.
  // Access 1: PTE@0x4008 A|D -> 0x4067; stores 0x6007 at 0x4000.
  // Access 2: PTE@0x4000 = 0x6007 -> A -> 0x6027; pa 0x6000.
  sdmCase(
    "format: a write to a page-table entry is seen by the next access",
    {
      memory: [...STD, at(0x4008, "0x4007")],
      accesses: [write("0x1000", "0x6007"), read("0x0", 0, 1)],
    },
    {
      results: [ok("0x4000"), okRead("0x6000", "0x0")],
      memory: changes(
        ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x6027"], ["0x4008", "0x4067"],
      ),
    },
  ),

  // ---- crossing a page boundary ----
  // 8-byte read at 0xffc: bytes 0x5ffc..0x5fff are the upper half of word
  // 0x5ff8 (0x8877665544332211 -> 0x55,0x66,0x77,0x88), bytes 0x6000..0x6003
  // the lower half of word 0x6000 (0xffeeddccbbaa9900 -> 0x00,0x99,0xaa,0xbb).
  // Little-endian value: 0xbbaa990088776655. Second page via PTE 1 at 0x4008.
  sdmCase(
    "format: an 8-byte read at 0xffc crosses into the next page",
    {
      memory: [...STD, at(0x4008, "0x6007"), at(0x5ff8, "0x8877665544332211"), at(0x6000, "0xffeeddccbbaa9900")],
      accesses: [read("0xffc")],
    },
    {
      results: [okRead("0x5ffc", "0xbbaa990088776655")],
      memory: changes(
        ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"], ["0x4008", "0x6027"],
      ),
    },
  ),
  // Crossing read from a 4 KiB page (PT index 511 of PD 0) into a 2 MiB page
  // (PDE 1 at 0x3008 = 0x200087). va 0x1ffffc: bytes 0x5ffc..0x5fff = upper
  // half of 0x4433221100000000 (0x11,0x22,0x33,0x44); bytes 0x200000..3 = low
  // half of 0x88776655 (0x55,0x66,0x77,0x88) -> 0x8877665544332211.
  sdmCase(
    "format: a read crossing from a 4 KiB page into a 2 MiB page",
    {
      memory: [
        ...chain("0x2007", "0x3007", "0x4007"), at(0x3008, "0x200087"), at(0x4ff8, "0x5007"),
        at(0x5ff8, "0x4433221100000000"), at(0x200000, "0x88776655"),
      ],
      accesses: [read("0x1ffffc", 3)],
    },
    {
      results: [okRead("0x5ffc", "0x8877665544332211")],
      memory: changes(
        ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x3008", "0x2000a7"], ["0x4ff8", "0x5027"],
      ),
    },
  ),
  // 4-byte write at 0xffe, value 0xaabbccdd: 0xdd -> 0x5ffe, 0xcc -> 0x5fff
  // (word 0x5ff8 = 0xccdd000000000000), 0xbb -> 0x6000, 0xaa -> 0x6001 (word
  // 0x6000 = 0xaabb). Both leaves get A|D.
  sdmCase(
    "format: a write crossing a page boundary stores into both pages",
    { memory: [...STD, at(0x4008, "0x6007")], accesses: [write("0xffe", "0xaabbccdd", 0, 4)] },
    {
      results: [ok("0x5ffe")],
      memory: changes(
        ["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5067"], ["0x4008", "0x6067"],
        ["0x5ff8", "0xccdd000000000000"], ["0x6000", "0xaabb"],
      ),
    },
  ),
  // 8-byte write at 0xffc, second page's PTE (0x4008) not present: PF W = 0x2,
  // CR2 = 0x1000 (second page's first address). No data byte is written; the
  // first page's translation already set its leaf A|D (0x5067).
  sdmCase(
    "format: a write crossing into a not-present page faults with CR2 = second page, writes nothing",
    {
      memory: [...STD, fill(0x5000, "0xcccccccccccccccc")],
      accesses: [write("0xffc", "0x1122334455667788")],
    },
    {
      results: [pf("0x2", "0x1000")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5067"]),
    },
  ),
  // User read crossing into a supervisor page (PTE 1 = 0x6003): P|U = 0x5,
  // CR2 0x1000; first leaf A (0x5027); second leaf unchanged.
  sdmCase(
    "format: a user read crossing into a supervisor page faults with CR2 = second page",
    { memory: [...STD, at(0x4008, "0x6003")], accesses: [read("0xff8", 3, 8), read("0xffa", 3, 8)] },
    {
      results: [okRead("0x5ff8", "0x0"), pf("0x5", "0x1000")],
      memory: changes(["0x1000", "0x2027"], ["0x2000", "0x3027"], ["0x3000", "0x4027"], ["0x4000", "0x5027"]),
    },
  ),
  // Crossing read whose first page is not present: CR2 = va itself; the
  // second page is never translated (its PTE keeps A clear).
  sdmCase(
    "format: a crossing access whose first page faults reports CR2 = va",
    { memory: [...chain("0x2007", "0x3007", "0x4007", "0x0"), at(0x4008, "0x6007")], accesses: [read("0xffc", 3)] },
    { results: [pf("0x4", "0xffc")], memory: NONLEAF_A },
  ),
];
