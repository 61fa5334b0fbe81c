/**
 * Issue 13, defect 4: every raw access number is validated on every path.
 * storeNumber with a read access used to store the value on a read-only page
 * (leaving D clear); a size field of 15 wrote 15 bytes across a page.
 */
import { describe, it, expect } from "vitest";
import { Mmu, LONG_MODE, encodeAccess, ArgumentError } from "../src/index.js";

function setup(): Mmu {
  const mmu = new Mmu();
  const pt = mmu.createPageTable();
  pt.map(0x400000n, 0x200000n, 0x1000n, { flags: { user: true } }); // read-only user page
  pt.map(0x401000n, 0x201000n, 0x1000n, { flags: { user: true, writable: true } });
  mmu.loadState({ ...LONG_MODE, cr3: pt.root });
  return mmu;
}

describe("raw access numbers", () => {
  it("storeNumber refuses a read access and writes nothing", () => {
    const mmu = setup();
    const read4 = encodeAccess({ op: "read", size: 4, cpl: 3 });
    expect(() => mmu.storeNumber(0x400000, read4, 0x1234)).toThrow(ArgumentError);
    expect(mmu.memory.read(0x200000n, 4)).toBe(0n);
    expect(mmu.probe(0x400000n).ok && (mmu.probe(0x400000n) as { leaf: bigint }).leaf & 0x40n).toBe(0n); // D still clear
  });

  it("a size field other than 1, 2, 4 or 8, op 3, a fetch of 4 bytes or bits above 7 are refused on every path", () => {
    const mmu = setup();
    const bad = [0xf1, 3, (4 << 4) | 2, 0x100, -1, 1.5, Number.NaN];
    const b = mmu.batch(4);
    b.input[0] = 0x401ff8n;
    for (const acc of bad) {
      expect(() => mmu.translateNumber(0x401000, acc), String(acc)).toThrow(ArgumentError);
      expect(() => mmu.loadNumber(0x401000, acc), String(acc)).toThrow(ArgumentError);
      expect(() => mmu.storeNumber(0x401ff8, acc, 1), String(acc)).toThrow(ArgumentError);
      expect(() => mmu.translate(0x401000n, acc), String(acc)).toThrow(ArgumentError);
      expect(() => b.translate(1, acc), String(acc)).toThrow(ArgumentError);
      expect(() => b.store(1, acc), String(acc)).toThrow(ArgumentError);
    }
    expect(mmu.memory.read(0x201ff8n, 8)).toBe(0n);
    expect(mmu.memory.read(0x202000n, 8)).toBe(0n);
  });

  it("loadNumber and a batch load refuse a write access", () => {
    const mmu = setup();
    const w4 = encodeAccess({ op: "write", size: 4 });
    expect(() => mmu.loadNumber(0x401000, w4)).toThrow(ArgumentError);
    expect(() => mmu.batch(1).load(1, w4)).toThrow(ArgumentError);
  });
});
