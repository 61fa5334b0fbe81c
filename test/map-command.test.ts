/**
 * `x86mmu map` on a small hand-built address space, its output derived by
 * hand (below), from a scenario file and from the same memory as a sparse,
 * raw, ELF and gzip image; the image loader's formats and errors; the
 * command's bad inputs.
 *
 * The tables (CR3 0x1000, 4-level, CR4 PAE|PGE, EFER NXE|LMA|LME):
 *   PML4[0]   = 0x2007  -> PDPT 0x2000 (P RW US)
 *   PML4[511] = 0x5003  -> PDPT 0x5000 (P RW)
 *   PDPT 0x2000 [0] = 0x3007 -> PD 0x3000;  [1] = 0x400000e5: a 1 GiB page at 0x40000000 (P US PS A D: user read-only)
 *   PD 0x3000 [1] = 0x80000000006000e3: a 2 MiB page at 0x600000 (P RW PS A D XD: supervisor, NX)
 *             [2] = 0x4007 -> PT 0x4000;  [3] = 0xd005 -> PT 0xd000 (P US, read-only above a writable PTE)
 *   PT 0x4000 [0] = 0x2800000000007027: VA 0x400000 -> 0x7000 (P RW US A, protection key 5)
 *             [1] = 0x8065:             VA 0x401000 -> 0x8000 (P US A D: user read-only)
 *   PT 0xd000 [0] = 0xe007:             VA 0x600000 -> 0xe000 (P RW US; effective: read-only)
 *   PDPT 0x5000 [511] = 0x6003 -> PD 0x6000; PD [0] = 0x9003 -> PT 0x9000
 *   PT 0x9000 [0] = 0xa163:             VA 0xffffffffc0000000 -> 0xa000 (P RW A D G: global)
 *             [1] = 0x800000000000b119: VA 0xffffffffc0001000 -> 0xb000 (P PWT PCD G XD: read-only, NX)
 *             [2] = 0xc083:             VA 0xffffffffc0002000 -> 0xc000 (P RW PAT: QEMU prints it with PAT cleared)
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import { Mmu, PageTable, ImageError, loadImage, detectImageFormat, pageLeaves, qemuInfoTlb, qemuInfoMem, parseRegistersText } from "../src/api.js";

const dir = mkdtempSync(join(tmpdir(), "x86mmu-map-"));

const WORDS: [number, bigint][] = [
  [0x1000, 0x2007n], [0x1ff8, 0x5003n],
  [0x2000, 0x3007n], [0x2008, 0x400000e5n],
  [0x3008, 0x80000000006000e3n], [0x3010, 0x4007n], [0x3018, 0xd005n],
  [0x4000, 0x2800000000007027n], [0x4008, 0x8065n],
  [0xd000, 0xe007n],
  [0x5ff8, 0x6003n], [0x6000, 0x9003n],
  [0x9000, 0xa163n], [0x9008, 0x800000000000b119n], [0x9010, 0xc083n],
];
const CPU = { cr0: "0x80010033", cr3: "0x1000", cr4: "0xa0", efer: "0xd00" };

const hx = (v: bigint | number) => "0x" + v.toString(16);
const scenario = {
  name: "hand-built",
  cpu: CPU,
  memory: WORDS.map(([pa, v]) => ({ paddr: hx(pa), qwords: [hx(v)] })),
  accesses: [{ va: "0x400000", op: "read" }],
};

/** What QEMU's info tlb prints for these tables, derived by hand (see the header). */
const TLB = [
  "0000000000200000: 0000000000600000 X-PDA---W",
  "0000000000400000: 0000000000007000 ----A--UW",
  "0000000000401000: 0000000000008000 ---DA--U-",
  "0000000000600000: 000000000000e000 -------UW",
  "0000000040000000: 0000000040000000 --PDA--U-",
  "ffffffffc0000000: 000000000000a000 -G-DA---W",
  "ffffffffc0001000: 000000000000b000 XG---CT--",
  "ffffffffc0002000: 000000000000c000 --------W",
].join("\n") + "\n";

/** info mem: effective rights (U and W ANDed over the levels) merged over consecutive pages. */
const MEM = [
  "0000000000200000-0000000000400000 0000000000200000 -rw",
  "0000000000400000-0000000000401000 0000000000001000 urw",
  "0000000000401000-0000000000402000 0000000000001000 ur-",
  "0000000000600000-0000000000601000 0000000000001000 ur-",
  "0000000040000000-0000000080000000 0000000040000000 ur-",
  "ffffffffc0000000-ffffffffc0001000 0000000000001000 -rw",
  "ffffffffc0001000-ffffffffc0002000 0000000000001000 -r-",
  "ffffffffc0002000-ffffffffc0003000 0000000000001000 -rw",
].join("\n") + "\n";

function run(args: string[]): { status: number; out: string; err: string } {
  let out = "";
  let err = "";
  const status = main(args, (s) => void (out += s), (s) => void (err += s));
  return { status, out, err };
}

const file = (name: string, data: string | Uint8Array): string => {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
};

/** The tables as 4 KiB pages: physical address -> page bytes. */
function pages(): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  for (const [pa, v] of WORDS) {
    const base = pa & ~0xfff;
    if (!m.has(base)) m.set(base, new Uint8Array(4096));
    new DataView(m.get(base)!.buffer).setBigUint64(pa - base, v, true);
  }
  return new Map([...m].sort((a, b) => a[0] - b[0]));
}

function sparseImage(): Uint8Array {
  const ps = pages();
  const out = new Uint8Array(ps.size * 4104);
  let at = 0;
  for (const [pa, bytes] of ps) {
    new DataView(out.buffer).setBigUint64(at, BigInt(pa), true);
    out.set(bytes, at + 8);
    at += 4104;
  }
  return out;
}

function rawImage(size = 0x10000): Uint8Array {
  const out = new Uint8Array(size);
  for (const [pa, bytes] of pages()) out.set(bytes, pa);
  return out;
}

/** An ELF64 core as dump-guest-memory writes one: a PT_NOTE, then PT_LOADs (here: 0..0x6000 and 0x9000..0xe000, at file offsets of their own). */
function elfImage(opts: { machine?: number; cut?: number } = {}): Uint8Array {
  const raw = rawImage();
  const segs = [
    { paddr: 0x0, from: 0x0, len: 0x7000 },
    { paddr: 0x9000, from: 0x9000, len: 0x5000 },
  ];
  const phoff = 64;
  const phnum = segs.length + 1;
  const dataStart = 0x1000;
  const total = dataStart + segs.reduce((n, s) => n + s.len, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  dv.setUint16(16, 4, true); // ET_CORE
  dv.setUint16(18, opts.machine ?? 62, true);
  dv.setUint32(20, 1, true);
  dv.setBigUint64(32, BigInt(phoff), true);
  dv.setUint16(52, 64, true);
  dv.setUint16(54, 56, true);
  dv.setUint16(56, phnum, true);
  dv.setUint32(phoff, 4, true); // PT_NOTE, empty
  let off = dataStart;
  segs.forEach((s, i) => {
    const ph = phoff + 56 * (i + 1);
    dv.setUint32(ph, 1, true); // PT_LOAD
    dv.setBigUint64(ph + 8, BigInt(off), true);
    dv.setBigUint64(ph + 16, 0xffff880000000000n + BigInt(s.paddr), true); // p_vaddr: not used
    dv.setBigUint64(ph + 24, BigInt(s.paddr), true);
    dv.setBigUint64(ph + 32, BigInt(s.len), true);
    dv.setBigUint64(ph + 40, BigInt(s.len), true);
    out.set(raw.subarray(s.from, s.from + s.len), off);
    off += s.len;
  });
  return opts.cut ? out.subarray(0, opts.cut) : out;
}

describe("x86mmu map on a hand-built address space", () => {
  const scen = file("hand.json", JSON.stringify(scenario));

  it("prints QEMU's info tlb: one line per leaf, the leaf's own flags, PAT cleared on 4 KiB lines", () => {
    const r = run(["map", scen]);
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    expect(r.out).toBe(TLB);
  });

  it("prints QEMU's info mem with --mem: ranges of equal effective rights", () => {
    const r = run(["map", scen, "--mem"]);
    expect(r.status).toBe(0);
    expect(r.out).toBe(MEM);
  });

  it("prints the pages as JSON with --json: size, entry, key, A/D, effective rights", () => {
    const r = run(["map", scen, "--json"]);
    expect(r.status).toBe(0);
    const p = JSON.parse(r.out) as Record<string, unknown>[];
    expect(p.map((x) => `${x.va as string} ${x.pageSize as string}`)).toEqual([
      "0x200000 2M", "0x400000 4K", "0x401000 4K", "0x600000 4K", "0x40000000 1G", "0xffffffffc0000000 4K", "0xffffffffc0001000 4K", "0xffffffffc0002000 4K",
    ]);
    expect(p[0]).toEqual({
      va: "0x200000", pa: "0x600000", pageSize: "2M", level: 2, entry: "0x80000000006000e3", entryAddr: "0x3008",
      writable: true, user: false, noExecute: true, global: false, pkey: 0, writeThrough: false, cacheDisable: false, pat: false, accessed: true, dirty: true,
    });
    expect(p[1]).toMatchObject({ pa: "0x7000", pkey: 5, user: true, writable: true, accessed: true, dirty: false });
    expect(p[2]).toMatchObject({ user: true, writable: false, dirty: true });
    // The PTE allows writes, the PDE above it does not: the effective right is read-only.
    expect(p[3]).toMatchObject({ entry: "0xe007", user: true, writable: false, accessed: false });
    expect(p[4]).toMatchObject({ pa: "0x40000000", level: 3, user: true, writable: false });
    expect(p[5]).toMatchObject({ global: true, writable: true, user: false });
    expect(p[6]).toMatchObject({ global: true, noExecute: true, writable: false, writeThrough: true, cacheDisable: true });
    expect(p[7]).toMatchObject({ pat: true, entry: "0xc083" });
  });

  it("the API gives the same text (qemuInfoTlb, qemuInfoMem)", () => {
    const mmu = new Mmu();
    loadImage(mmu.memory, sparseImage());
    mmu.loadState({ cr0: 0x80010033n, cr3: 0x1000n, cr4: 0xa0n, efer: 0xd00n });
    expect(qemuInfoTlb(mmu)).toBe(TLB);
    expect(qemuInfoMem(mmu)).toBe(MEM);
    mmu.loadState({ cr0: 0x10n, cr3: 0x1000n, cr4: 0n, efer: 0n });
    expect(qemuInfoTlb(mmu)).toBe("PG disabled\n");
  });

  const regs = file("regs.json", JSON.stringify({ ...CPU, maxphyaddr: 40 }));

  it("reads the same memory as a sparse, raw, ELF or gzip image, registers from a file or flags", () => {
    const sparse = file("mem.sparse", sparseImage());
    const raw = file("mem.raw", rawImage());
    const elf = file("mem.elf", elfImage());
    const gz = file("mem.raw.gz", gzipSync(rawImage()));
    for (const img of [sparse, raw, elf, gz]) {
      expect(run(["map", "--image", img, "--registers", regs]).out, img).toBe(TLB);
    }
    expect(run(["map", "--image", raw, "--cr3", "0x1000", "--cr4", "0xa0", "--mem"]).out).toBe(MEM);
    // A raw dump placed at another base: CR3 moves with it (the entries do not, so nothing else maps the same).
    const r = run(["map", "--image", file("pt.raw", rawImage().subarray(0x9000, 0xa000)), "--base", "0x9000", "--format", "raw", "--cr3", "0x1000"]);
    expect(r.status).toBe(0);
    expect(r.out).toBe("");
    // QEMU's info registers text works as a registers file.
    const text = file("regs.txt", "CR0=80010033 CR2=0000000000000000 CR3=0000000000001000 CR4=000000a0\nEFER=0000000000000d00\n");
    expect(run(["map", "--image", sparse, "--registers", text]).out).toBe(TLB);
    expect(parseRegistersText("CR0=80010033 CR3=0000000000001000 CR4=000000a0 EFER=0000000000000d00")).toEqual({ cr0: 0x80010033n, cr3: 0x1000n, cr4: 0xa0n, efer: 0xd00n });
  });

  it("5-level paging: VAs sign-extended from bit 56; a range ending at the top of the lower half prints its end canonical, as QEMU does", () => {
    const mmu = new Mmu();
    const pt = mmu.createPageTable({ mode: 5 }) as PageTable;
    pt.map(0xff11000000000000n, 0x40000000n, 0x40000000n, { size: "1G", flags: { writable: true, global: true, noExecute: true } });
    pt.map(0x00fffffffffff000n, 0x5000n, 0x1000n, { flags: { user: true } });
    mmu.loadState({ cr0: 0x80010033n, cr3: pt.root, cr4: 0x1020n, efer: 0xd00n });
    expect(qemuInfoTlb(mmu)).toBe("00fffffffffff000: 0000000000005000 -------U-\nff11000000000000: 0000000040000000 XGP-----W\n");
    // The first range ends at 2^56, which QEMU's addr_canonical prints sign-extended.
    expect(qemuInfoMem(mmu)).toBe("00fffffffffff000-ff00000000000000 0000000000001000 ur-\nff11000000000000-ff11000040000000 0000000040000000 -rw\n");
    expect(pageLeaves(mmu).leaves.map((l) => l.pageSize)).toEqual(["4K", "1G"]);
  });

  it("notes a present entry with reserved bits on stderr and maps nothing through it", () => {
    const bad = { ...scenario, memory: [...scenario.memory, { paddr: "0x9018", qwords: ["0x1000000f003"] }], cpu: { ...CPU, maxphyaddr: 40 } };
    const r = run(["map", file("bad.json", JSON.stringify(bad))]);
    expect(r.status).toBe(0);
    expect(r.out).toBe(TLB);
    expect(r.err).toContain("1 present entry sets reserved bits");
    expect(r.err).toContain("PTE at 0x9018");
  });
});

describe("x86mmu explain --image", () => {
  const img = file("explain.sparse", sparseImage());
  const regs = file("explain-regs.json", JSON.stringify(CPU));

  it("explains accesses on an image's tables: a user read of the user read-only page, then a user write to it (#PF P|W|U)", () => {
    const r = run(["explain", "--image", img, "--registers", regs, "--access", "read:0x401010:8:cpl3", "--access", "write:0x401010:1:cpl3", "--no-color"]);
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    expect(r.out).toContain("a sparse image, 8 page(s) loaded; 4-level paging from CR3 0x1000");
    expect(r.out).toContain("=> physical address 0x8010");
    expect(r.out).toContain("=> #PF, error code 0x7 (P|W|U), CR2 = 0x401010");
  });

  it("refuses --map, --mem or --mode with --image, --registers alone, and no --access", () => {
    const bad: [string[], string][] = [
      [["explain", "--image", img, "--registers", regs, "--map", "0x1000=0x2000", "--access", "read:0x1000"], "--map does not apply with --image"],
      [["explain", "--registers", regs, "--access", "read:0x1000"], "--registers goes with --image"],
      [["explain", "--image", img, "--registers", regs], "give at least one --access"],
      [["run", "--image", img, scenarioFileFor("x")], "does not apply to run --image"],
      [["run", "--image", img, "--registers", regs], "give at least one --access"],
      [["run", "--image", img, "--registers", regs, "--map", "0x1000=0x2000", "--access", "read:0x1000"], "--map does not apply to run --image"],
      [["run", "--image", img, "--registers", regs, "--access", "jump:0x1000"], "is not OP:VA"],
    ];
    for (const [args, message] of bad) {
      const r = run(args);
      expect(r.err, args.join(" ")).toContain(message);
      expect(r.status).toBe(2);
    }
  });
});

describe("x86mmu run --image", () => {
  const img = file("run.sparse", sparseImage());
  const regs = file("run-regs.json", JSON.stringify(CPU));

  it("performs the accesses on the image's tables and prints run's result, with the words they changed", () => {
    // A user write of 2 bytes at 0x400010: allowed (P, R/W, U/S at every level); the
    // PML4E, PDPTE and PDE get A (0x2007 -> 0x2027, 0x3007 -> 0x3027, 0x4007 -> 0x4027),
    // the PTE (A already set) gets D: 0x2800000000007027 -> 0x2800000000007067; the data
    // word at 0x7010 becomes 0x1234. Then a user read at 0x401010 (PTE 0x8065: P, U/S, A, D):
    // physical 0x8010, a frame the image does not hold (zeros), nothing more changed.
    const r = run(["run", "--image", img, "--registers", regs, "--access", "write:0x400010:2:cpl3:value=0x1234", "--access", "read:0x401010:8:cpl3"]);
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      name: img,
      results: [
        { ok: true, pa: "0x7010" },
        { ok: true, pa: "0x8010", value: "0x0" },
      ],
      memory: [
        { paddr: "0x1000", value: "0x2027" },
        { paddr: "0x2000", value: "0x3027" },
        { paddr: "0x3010", value: "0x4027" },
        { paddr: "0x4000", value: "0x2800000000007067" },
        { paddr: "0x7010", value: "0x1234" },
      ],
    });
    // The same accesses as a scenario over the same memory give the same result.
    const sc = file("run-same.json", JSON.stringify({ ...scenario, name: img, accesses: [{ op: "write", va: "0x400010", size: 2, cpl: 3, value: "0x1234" }, { op: "read", va: "0x401010", size: 8, cpl: 3 }] }));
    expect(JSON.parse(run(["run", sc]).out)).toEqual(JSON.parse(r.out));
  });

  it("reports a fault and, with --trace, the walk", () => {
    const r = run(["run", "--image", img, "--registers", regs, "--access", "write:0x401010:1:cpl3", "--trace"]);
    expect(r.status).toBe(0);
    const o = JSON.parse(r.out);
    expect(o.results[0]).toMatchObject({ ok: false, fault: "PF", error_code: "0x7", cr2: "0x401010" });
    expect(o.results[0].walk.length).toBe(4);
  });
});

function scenarioFileFor(name: string): string {
  return file(`${name}.json`, JSON.stringify({ ...scenario, name }));
}

describe("memory images", () => {
  it("detects the format from the content", () => {
    expect(detectImageFormat(sparseImage())).toBe("sparse");
    expect(detectImageFormat(rawImage())).toBe("raw");
    expect(detectImageFormat(elfImage())).toBe("elf");
    // 4104 bytes whose first word is not 4 KiB aligned: raw.
    const odd = new Uint8Array(4104);
    odd[0] = 1;
    expect(detectImageFormat(odd)).toBe("raw");
  });

  it("skips zero pages: only the frames that hold data get storage", () => {
    const mmu = new Mmu();
    const info = loadImage(mmu.memory, rawImage(0x100000));
    expect(info).toMatchObject({ format: "raw", pagesWritten: 8, zeroPagesSkipped: 256 - 8, pieces: 1, bytes: 0x100000 });
    expect(mmu.memory.frames().length).toBe(8);
    // A frame that already holds data is overwritten, zeros included.
    mmu.memory.write(0x20000n, 8, 0x1234n);
    loadImage(mmu.memory, new Uint8Array(0x21000));
    expect(mmu.memory.read(0x20000n, 8)).toBe(0n);
    const elf = loadImage(new Mmu().memory, elfImage());
    expect(elf).toMatchObject({ format: "elf", pieces: 2, bytes: 0xc000 });
  });

  it("throws ImageError naming the offset for truncated or malformed images", () => {
    const mem = () => new Mmu().memory;
    const err = (f: () => unknown): ImageError => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ImageError);
        return e as ImageError;
      }
      throw new Error("no error");
    };
    const cut = sparseImage().subarray(0, 4104 * 2 + 100);
    const t = err(() => loadImage(mem(), cut, { format: "sparse" }));
    expect(t.code).toBe("IMAGE_TRUNCATED");
    expect(t.offset).toBe(8208);
    expect(t.message).toContain("image offset 8208");
    const unaligned = sparseImage();
    unaligned[4104] = 0x10;
    expect(err(() => loadImage(mem(), unaligned, { format: "sparse" })).message).toContain("sparse record 1: physical address 0x2010 is not 4 KiB aligned");
    expect(err(() => loadImage(mem(), elfImage({ cut: 0x3000 }))).message).toMatch(/truncated ELF: PT_LOAD segment 1 .*past the end/);
    expect(err(() => loadImage(mem(), elfImage({ cut: 40 }))).code).toBe("IMAGE_TRUNCATED");
    expect(err(() => loadImage(mem(), elfImage({ machine: 40 }))).message).toContain("e_machine 40 is not x86");
    expect(err(() => loadImage(mem(), gzipSync(rawImage()))).code).toBe("IMAGE_COMPRESSED");
    const high = sparseImage();
    new DataView(high.buffer).setBigUint64(0, 1n << 45n, true);
    const m = new Mmu();
    m.maxPhyAddr = 40;
    expect(err(() => loadImage(m.memory, high, { format: "sparse" })).message).toContain("at or above 2^MAXPHYADDR (40)");
  });
});

describe("x86mmu map: bad input", () => {
  const scen = file("ok.json", JSON.stringify(scenario));
  const cases: [string, string[], number, string][] = [
    ["no file", ["map"], 2, "give one scenario FILE"],
    ["an unknown option", ["map", scen, "--bogus"], 2, "unknown option --bogus"],
    ["--mem with --json", ["map", scen, "--mem", "--json"], 2, "--mem and --json"],
    ["register flags without --image", ["map", scen, "--cr3", "0x1000"], 2, "--cr3 goes with --image"],
    ["an image without registers", ["map", "--image", scen], 2, "needs the registers"],
    ["a missing image", ["map", "--image", join(dir, "none.bin"), "--cr3", "0x1000"], 2, "cannot read"],
    ["a bad --format", ["map", "--image", scen, "--cr3", "0x1000", "--format", "qcow2"], 2, "--format must be"],
    ["a bad number", ["map", "--image", scen, "--cr3", "zz"], 2, '--cr3 "zz" is not a number'],
    ["a broken .xz", ["map", "--image", file("bad.xz", new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 1, 2, 3])), "--cr3", "0x1000"], 2, "cannot decompress"],
    ["a truncated sparse image", ["map", "--image", file("cut.bin", sparseImage().subarray(0, 5000)), "--format", "sparse", "--cr3", "0x1000"], 1, "truncated sparse image"],
    ["registers that are not JSON", ["map", "--image", scen, "--registers", file("r.txt", "hello")], 2, "neither JSON"],
    ["registers missing a field", ["map", "--image", scen, "--registers", file("r.json", '{"cr0": "0x80010033"}')], 2, "cr3, cr4, efer missing"],
    ["registers the processor refuses", ["map", "--image", file("e.raw", rawImage()), "--cr3", "0x1000", "--cr0", "0x80000000"], 1, "x86mmu map:"],
    ["a malformed scenario", ["map", file("broken.json", "{")], 1, "invalid JSON"],
  ];
  for (const [what, args, status, message] of cases) {
    it(`${what}: exit ${status}`, () => {
      const r = run(args);
      expect(r.err).toContain(message);
      expect(r.status).toBe(status);
      expect(r.out).toBe("");
    });
  }

  it("--help prints map's usage", () => {
    const r = run(["map", "--help"]);
    expect(r.status).toBe(0);
    expect(r.out).toContain("x86mmu map --image IMAGE");
    expect(run(["--help"]).out).toContain("x86mmu map FILE");
  });
});
