/**
 * Issue 13, defects 1 and 2: copies whose callbacks copy too, or grow linear
 * memory. A before-hook calling writeBytes during an outer writeBytes used to
 * overwrite the outer copy's segment buffer (the hooked page kept 0 and an
 * unrelated page got the bytes); a device callback that grew linear memory
 * made the rest of a bulk copy silently skip. Each copy now owns its
 * segments (copied out of linear memory when translated), and views of
 * linear memory are taken per piece.
 */
import { describe, it, expect } from "vitest";
import { Mmu, LONG_MODE } from "../src/index.js";

function setup(): Mmu {
  const mmu = new Mmu();
  const pt = mmu.createPageTable();
  pt.map(0x400000n, 0x200000n, 0x2000n, { flags: { writable: true } }); // two RAM pages
  pt.map(0x500000n, 0x300000n, 0x1000n, { flags: { writable: true } });
  pt.map(0x600000n, 0xfee00000n, 0x1000n, { flags: { writable: true } }); // a device page
  pt.map(0x601000n, 0x301000n, 0x1000n, { flags: { writable: true } });
  mmu.loadState({ ...LONG_MODE, cr3: pt.root });
  return mmu;
}

describe("re-entrant and memory-growing copies", () => {
  it("a before-hook that writes elsewhere does not redirect the outer copy", () => {
    const mmu = setup();
    mmu.addHook({
      space: "linear",
      start: 0x401000n,
      length: 0x1000n,
      ops: ["write"],
      before: () => mmu.writeBytes(0x500000n, Uint8Array.of(9, 9, 9, 9)),
    });
    // 8 bytes across the two pages: 4 at 0x400ffc (RAM 0x200ffc), 4 at 0x401000 (RAM 0x201000, hooked).
    mmu.writeBytes(0x400ffcn, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    expect([...mmu.memory.readBytes(0x200ffcn, 4)]).toEqual([1, 2, 3, 4]);
    expect([...mmu.memory.readBytes(0x201000n, 4)]).toEqual([5, 6, 7, 8]);
    expect([...mmu.memory.readBytes(0x300000n, 4)]).toEqual([9, 9, 9, 9]);
    // And readBytes under the same hook kind returns the bytes of the right pages.
    mmu.addHook({ space: "linear", start: 0x401000n, length: 0x1000n, ops: ["read"], before: () => void mmu.readBytes(0x500000n, 16) });
    expect([...mmu.readBytes(0x400ffcn, 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("a device write that grows linear memory does not cut the copy short", () => {
    const mmu = setup();
    const before = mmu.coreInstance.x.memory.buffer.byteLength;
    let grew = false;
    mmu.mapDevice(0xfee00000n, 0x1000n, {
      read: () => 0,
      write: () => {
        if (grew) return;
        grew = true;
        // Give storage to 512 frames above the low window: linear memory must grow for them.
        for (let i = 0n; i < 512n; i++) mmu.memory.write(0x40000000n + i * 0x1000n, 1, 1);
      },
    });
    const data = new Uint8Array(0x1000 + 0x1000).fill(0x5a);
    mmu.writeBytes(0x600000n, data); // the device page, then RAM 0x301000
    expect(mmu.coreInstance.x.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(mmu.memory.readBytes(0x301000n, 0x1000).every((b) => b === 0x5a)).toBe(true);
  });
});

describe("owner-guarded copies between address spaces with a hook on one side", () => {
  it("a read hook on the source that copies too does not redirect the destination (both sides' segments are pinned)", async () => {
    const { VmSpace } = await import("../src/ostd/vm-space.js");
    const mmu = new Mmu();
    const space = VmSpace.create(mmu, { kind: "user" });
    space.activate();
    space.map(0x10000n, 0x200000n, 0x2000n, { size: "4K" }); // source: two pages
    space.map(0x20000n, 0x300000n, 0x2000n, { size: "4K" }); // destination: two plain pages
    space.map(0x30000n, 0x400000n, 0x4000n, { size: "4K" }); // where the hook writes
    mmu.memory.writeBytes(0x200000n, new Uint8Array(0x2000).fill(0x11));
    // The hook's own copy (writeBytes: the write translator, the one the destination used) spans four pages.
    mmu.addHook({ space: "linear", start: 0x11000n, length: 0x1000n, ops: ["read"], before: () => mmu.writeBytes(0x30000n, new Uint8Array(0x4000).fill(0x77), { cpl: 3 }) });
    const r = space.reader(0x10000n, 0x2000n);
    const w = space.writer(0x20000n, 0x2000n);
    const res = r.readFallible(w);
    r.close();
    w.close();
    expect(res.copied).toBe(0x2000);
    expect(mmu.memory.readBytes(0x300000n, 0x2000).every((b) => b === 0x11)).toBe(true);
    expect(mmu.memory.readBytes(0x400000n, 0x4000).every((b) => b === 0x77)).toBe(true);
  });
});
