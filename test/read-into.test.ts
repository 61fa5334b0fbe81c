/** readInto / writeFrom: copies through the caller's buffers, no allocation of a result. */
import { describe, it, expect } from "vitest";
import { Mmu, LONG_MODE, PageFault, ArgumentError } from "../src/index.js";

function setup(): Mmu {
  const mmu = new Mmu();
  const pt = mmu.createPageTable();
  // Two pages at 0x400000 and 0x401000 backed by distant frames 0x800000 and 0x300000.
  pt.map(0x400000n, 0x800000n, 0x1000n, { flags: { writable: true, user: true } });
  pt.map(0x401000n, 0x300000n, 0x1000n, { flags: { writable: true, user: true } });
  mmu.loadState({ ...LONG_MODE, cr3: pt.root });
  return mmu;
}

describe("readInto and writeFrom", () => {
  it("read across a page boundary into a subarray of the caller's buffer", () => {
    const mmu = setup();
    mmu.memory.write(0x800ffen, 2, 0x2211n); // the last two bytes of the first page
    mmu.memory.write(0x300000n, 2, 0x4433n); // the first two of the second
    const buf = new Uint8Array(8).fill(0xee);
    mmu.readInto(0x400ffen, buf.subarray(2, 6));
    expect([...buf]).toEqual([0xee, 0xee, 0x11, 0x22, 0x33, 0x44, 0xee, 0xee]);
  });

  it("writeFrom writes the source; a fault on the second page writes nothing and leaves the target unchanged", () => {
    const mmu = setup();
    mmu.writeFrom(0x400ff0n, Uint8Array.of(1, 2, 3, 4));
    expect(mmu.memory.read(0x800ff0n, 4)).toBe(0x04030201n);
    const buf = new Uint8Array(0x20).fill(7);
    expect(() => mmu.readInto(0x401ff0n, buf)).toThrow(PageFault); // 0x402000 is not mapped
    expect(buf.every((b) => b === 7)).toBe(true);
    expect(() => mmu.writeFrom(0x401ff0n, new Uint8Array(0x20).fill(9))).toThrow(PageFault);
    expect(mmu.memory.read(0x300ff0n, 8)).toBe(0n);
    expect(() => mmu.readInto(0x400000n, [1, 2] as unknown as Uint8Array)).toThrow(ArgumentError);
  });

  it("within one page: a frame never written reads as zeros, into only the bytes asked for; a write lands at its offset", () => {
    const mmu = setup();
    const buf = new Uint8Array(16).fill(0xee);
    mmu.readInto(0x401010n, buf.subarray(4, 12)); // frame 0x300000 has no storage yet
    expect([...buf]).toEqual([0xee, 0xee, 0xee, 0xee, 0, 0, 0, 0, 0, 0, 0, 0, 0xee, 0xee, 0xee, 0xee]);
    const src = new Uint8Array(8).map((_, i) => i + 1);
    mmu.writeFrom(0x401ffcn - 4n, src.subarray(2, 6)); // 4 bytes ending 4 before the page's end
    expect(mmu.memory.read(0x300ff8n, 4)).toBe(0x06050403n);
    mmu.readInto(0x401ff8n, buf.subarray(0, 4));
    expect([...buf.subarray(0, 4)]).toEqual([3, 4, 5, 6]);
  });

  it("within one page through readers and writers: host cursors past the start of their buffers", async () => {
    const { VmSpace, InfallibleVmReader, InfallibleVmWriter } = await import("../src/index.js");
    const mmu = new Mmu();
    const space = VmSpace.create(mmu, { kind: "user" });
    space.activate();
    space.map(0x10000n, 0x200000n, 0x2000n, { size: "4K" });
    // A page never written: zeros into bytes 4..12 of the host buffer only.
    const buf = new Uint8Array(16).fill(0xee);
    const r = space.reader(0x11000n, 8n);
    r.readFallible(InfallibleVmWriter.from(buf).skip(4));
    r.close();
    expect([...buf]).toEqual([0xee, 0xee, 0xee, 0xee, 0, 0, 0, 0, 0, 0, 0, 0, 0xee, 0xee, 0xee, 0xee]);
    // Bytes 2..6 of a host buffer into the page at 0x10ff0.
    const src = new Uint8Array(8).map((_, i) => i + 1);
    const w = space.writer(0x10ff0n, 4n);
    w.writeFallible(InfallibleVmReader.from(src).skip(2));
    w.close();
    expect(mmu.memory.read(0x200ff0n, 4)).toBe(0x06050403n);
  });
});
