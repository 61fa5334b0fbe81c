/**
 * A real Linux address space (test/fixtures/linux, from ../shared/linux:
 * Debian's 6.1 kernel under QEMU 7.2, 4-level paging, a user-mode CR3, about
 * 74,000 mapped pages) against QEMU's own answers: x86mmu's `info tlb` must
 * equal QEMU's line for line (VA, PA, every flag), its `info mem` likewise,
 * and every `gva2gpa` probe must translate through the Mmu as QEMU's debug
 * translation did (a supervisor read with EFLAGS.AC=1 and PKRU=0, which the
 * tables allow wherever QEMU's translation succeeds): mapped -> the same
 * physical address, unmapped -> #PF (not present, at the level where QEMU's
 * walk stopped), non-canonical -> #GP.
 */
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import { machineFromImage, readMaybeCompressed } from "../src/cli/map.js";
import { GeneralProtection, PageFault, type Mmu } from "../src/api.js";
import { loadImage, Mmu as MmuClass, pageLeaves, parseRegisters, qemuMemLines, qemuTlbLines } from "../src/api.js";

const dir = fileURLToPath(new URL("fixtures/linux/", import.meta.url));
const FRAMES = dir + "frames-4l-1.bin.xz";
const SAMPLE = dir + "sample-4l-1.json.xz";

interface Probe {
  va: string;
  kind: "mapped" | "unmapped" | "noncanonical";
  pa: string | null;
  stop_level?: number;
}
interface Sample {
  registers: Record<string, string>;
  facts: string[];
  info_tlb: string;
  info_mem: string;
  gva2gpa: Probe[];
  frames: { page_tables: [string, number][]; data: string[] };
}

/** QEMU's monitor text as lines: its CRLF line ends dropped, no empty last line. */
const linesOf = (text: string): string[] => text.split("\n").map((l) => l.replace(/\r$/, "")).filter((l) => l !== "");

let sample: Sample;
let frames: Uint8Array;
let mmu: Mmu;

beforeAll(() => {
  sample = JSON.parse(new TextDecoder().decode(readMaybeCompressed(SAMPLE))) as Sample;
  frames = readMaybeCompressed(FRAMES);
  mmu = machineFromImage(frames, parseRegisters(sample));
});

describe("the Linux 4-level sample", () => {
  it("loads: a sparse image of every page-table frame and the probed data frames, registers with MAXPHYADDR 40", () => {
    const m = new MmuClass();
    m.maxPhyAddr = 40;
    const info = loadImage(m.memory, frames);
    const records = frames.length / 4104;
    expect(info.format).toBe("sparse");
    expect(info.pieces).toBe(records);
    expect(info.pagesWritten + info.zeroPagesSkipped).toBe(records);
    expect(records).toBe(sample.frames.page_tables.length + sample.frames.data.length);
    const regs = parseRegisters(sample);
    expect(regs).toEqual({ cr0: 0x80050033n, cr3: 0x2a5a000n, cr4: 0x750ef0n, efer: 0xd01n, maxPhyAddr: 40 });
    expect(mmu.pagingMode).toBe("4-level");
  });

  it("info tlb: every line equals QEMU's (VA, PA, leaf flags), 74,333 leaves", () => {
    const walk = pageLeaves(mmu);
    expect(walk.invalid).toEqual([]);
    expect(walk.truncated).toBe(false);
    const ours = qemuTlbLines(walk);
    const qemu = linesOf(sample.info_tlb);
    expect(qemu.length).toBe(74333);
    expect(ours.length).toBe(qemu.length);
    const firstDiff = ours.findIndex((l, i) => l !== qemu[i]);
    expect(firstDiff === -1 ? "" : `line ${firstDiff + 1}: ours ${ours[firstDiff]} qemu ${qemu[firstDiff]}`).toBe("");
    // The sizes QEMU does not print: 146 2 MiB pages (the P lines), the rest 4 KiB, no 1 GiB page.
    expect(walk.leaves.filter((l) => l.pageSize === "2M").length).toBe(146);
    expect(walk.leaves.filter((l) => l.pageSize === "1G").length).toBe(0);
    expect(qemu.filter((l) => l.endsWith("P") || l.split(" ")[2]![2] === "P").length).toBe(146);
  });

  it("info mem: every range equals QEMU's (start, end, size, effective u/w), 65,652 ranges", () => {
    const ours = qemuMemLines(pageLeaves(mmu));
    const qemu = linesOf(sample.info_mem);
    expect(qemu.length).toBe(65652);
    expect(ours.length).toBe(qemu.length);
    const firstDiff = ours.findIndex((l, i) => l !== qemu[i]);
    expect(firstDiff === -1 ? "" : `line ${firstDiff + 1}: ours ${ours[firstDiff]} qemu ${qemu[firstDiff]}`).toBe("");
  });

  it("gva2gpa: all 258 probes translate as QEMU's debug translation did", () => {
    expect(sample.gva2gpa.length).toBe(258);
    const counts = { mapped: 0, unmapped: 0, noncanonical: 0 };
    const access = { op: "read", cpl: 0, ac: true } as const;
    expect(mmu.pkru).toBe(0);
    for (const p of sample.gva2gpa) {
      const va = BigInt(p.va);
      const r = mmu.tryTranslate(va, access);
      const where = `probe ${p.va} (${p.kind})`;
      if (p.kind === "mapped") {
        expect(r.ok ? `pa 0x${r.pa.toString(16)}` : `${r.fault.message}`, where).toBe(`pa 0x${BigInt(p.pa!).toString(16)}`);
      } else if (p.kind === "unmapped") {
        expect(r.ok, where).toBe(false);
        const f = (r as { fault: unknown }).fault;
        expect(f, where).toBeInstanceOf(PageFault);
        expect((f as PageFault).present, where).toBe(false);
        // The walk stops at the level of the entry that is not present (4 = PML4E .. 1 = PTE).
        mmu.setTrace(true);
        mmu.flushTlb();
        mmu.tryTranslate(va, access);
        const steps = mmu.takeTrace();
        mmu.setTrace(false);
        if (p.stop_level !== undefined) expect(steps[steps.length - 1]!.level, where).toBe(p.stop_level);
      } else {
        expect(r.ok, where).toBe(false);
        expect((r as { fault: unknown }).fault, where).toBeInstanceOf(GeneralProtection);
      }
      counts[p.kind]++;
    }
    expect(counts).toEqual({ mapped: 200, unmapped: 50, noncanonical: 8 });
  });

  it("x86mmu map prints the same from the .xz files, as info tlb, info mem and JSON", () => {
    const run = (args: string[]) => {
      let out = "";
      let err = "";
      const status = main(args, (s) => void (out += s), (s) => void (err += s));
      return { status, out, err };
    };
    const tlb = run(["map", "--image", FRAMES, "--registers", SAMPLE]);
    expect(tlb.err).toBe("");
    expect(tlb.status).toBe(0);
    expect(tlb.out).toBe(linesOf(sample.info_tlb).join("\n") + "\n");
    const mem = run(["map", "--image", FRAMES, "--registers", SAMPLE, "--mem"]);
    expect(mem.status).toBe(0);
    expect(mem.out).toBe(linesOf(sample.info_mem).join("\n") + "\n");
    const json = run(["map", "--image", FRAMES, "--registers", SAMPLE, "--json"]);
    expect(json.status).toBe(0);
    const pages = JSON.parse(json.out) as { va: string; pageSize: string; user: boolean; writable: boolean; accessed: boolean; dirty: boolean; pkey: number }[];
    expect(pages.length).toBe(74333);
    expect(pages[0]).toMatchObject({ va: "0x400000", pa: "0xaf0e000", pageSize: "4K", level: 1, user: true, writable: false, noExecute: true, global: false, accessed: true, dirty: false, pkey: 0 });
  });
});
