import { describe, it, expect } from "vitest";
import { Mmu } from "../src/mmu/mmu.js";
import { VmSpace, MAX_USERSPACE_VADDR } from "../src/ostd/vm-space.js";
import { AccessDenied, OwnershipError } from "../src/ostd/owner.js";
import { InfallibleVmReader, InfallibleVmWriter } from "../src/ostd/io.js";
import { MappingError, RegisterError } from "../src/base/errors.js";

function setup(opts = {}) {
  const mmu = new Mmu();
  const space = VmSpace.create(mmu, { debug: true, ...opts });
  space.activate();
  return { mmu, space };
}

describe("VmSpace", () => {
  it("refuses to activate under 32-bit or PAE paging (its tables are long mode's), changing nothing", () => {
    for (const [state, mode] of [
      [{ cr0: 0x80000011n, cr3: 0x1000n, cr4: 0n, efer: 0n }, "32-bit"],
      [{ cr0: 0x80000011n, cr3: 0x1000n, cr4: 0x20n, efer: 0n }, "pae"],
    ] as const) {
      const mmu = new Mmu();
      mmu.loadState(state);
      const space = VmSpace.create(mmu, { debug: true });
      expect(() => space.activate()).toThrow(RegisterError);
      expect(() => space.activate()).toThrow(`runs ${mode} paging`);
      expect(mmu.cr3).toBe(0x1000n);
      expect(mmu.pagingMode).toBe(mode);
      expect(space.isActive).toBe(false);
      expect(VmSpace.activeOn(mmu)).toBeUndefined();
    }
  });

  it("activate loads CR3 and turns on long mode; one active space per Mmu", () => {
    const mmu = new Mmu();
    const a = VmSpace.create(mmu, { debug: true });
    const b = VmSpace.create(mmu, { debug: true });
    expect(a.isActive).toBe(false);
    a.activate();
    expect(mmu.cr3).toBe(a.root);
    expect(a.isActive).toBe(true);
    b.activate(mmu);
    expect(mmu.cr3).toBe(b.root);
    expect(a.isActive).toBe(false);
    expect(a.owner.active).toBe(false);
    expect(VmSpace.activeOn(mmu)).toBe(b);
  });

  it("maps, translates, and keeps the total view equal to the page table", () => {
    const { mmu, space } = setup();
    const frames = space.mapFresh(0x400000n, 0x3000n);
    expect(frames).toHaveLength(3);
    expect(mmu.translate(0x401123n, { op: "read", cpl: 3 })).toBe(frames[1]! + 0x123n);
    expect(space.query(0x402000n)?.pa).toBe(frames[2]);
    space.map(0x40000000n, 0x80000000n, 0x200000n, { size: "2M" });
    expect(space.query(0x40012345n)).toMatchObject({ va: 0x40000000n, pa: 0x80000000n, size: 0x200000n });
    space.protect(0x400000n, 0x1000n, { user: true });
    expect(mmu.tryTranslate(0x400000n, { op: "write", cpl: 3 }).ok).toBe(false);
    space.unmap(0x401000n, 0x1000n);
    expect(space.query(0x401000n)).toBeUndefined();
    expect(space.owner.inv()).toBe(true);
  });

  it("refuses map over a mapped page (as upstream OSTD), changing nothing", () => {
    const { space } = setup();
    space.mapFresh(0x400000n, 0x2000n);
    const before = space.owner.mvRange!.toString();
    expect(() => space.map(0x401000n, 0x900000n, 0x2000n)).toThrow(MappingError);
    expect(space.owner.mvRange!.toString()).toBe(before);
    expect(space.owner.inv()).toBe(true);
  });

  it("cursor: query, jump, map page by page, range checks", () => {
    const { space } = setup();
    const c = space.cursorMut(0x10000n, 0x4000n);
    c.map(0x200000n);
    c.map(0x201000n);
    expect(c.virtAddr).toBe(0x12000n);
    c.jump(0x10000n);
    expect(c.query()).toMatchObject({ va: 0x10000n, pa: 0x200000n });
    c.jump(0x13000n);
    expect(() => c.map(0x300000n, { size: "2M" })).toThrow();
    expect(() => c.jump(0x14000n)).toThrow();
    expect(() => space.cursorMut(0x1001n, 0x1000n)).toThrow(AccessDenied);
    expect(() => space.cursorMut(0xffff800000000000n, 0x1000n)).toThrow(AccessDenied);
  });

  it("user reader/writer ranges past MAX_USERSPACE_VADDR or on an inactive space are AccessDenied", () => {
    const mmu = new Mmu();
    const space = VmSpace.create(mmu, { debug: true });
    expect(() => space.reader(0x1000n, 8)).toThrow(AccessDenied);
    space.activate();
    expect(() => space.writer(MAX_USERSPACE_VADDR - 4n, 8)).toThrow(AccessDenied);
  });

  it("a shared kernel half: kernel mappings show through every user space", () => {
    const mmu = new Mmu();
    const kernel = VmSpace.create(mmu, { kind: "kernel", debug: true });
    const p1 = VmSpace.create(mmu, { kernel, debug: true });
    const p2 = VmSpace.create(mmu, { kernel, debug: true });
    const [kf] = kernel.mapFresh(0xffff800000100000n, 0x1000n);
    p1.activate();
    expect(mmu.translate(0xffff800000100008n)).toBe(kf! + 8n);
    p2.activate();
    expect(mmu.translate(0xffff800000100008n)).toBe(kf! + 8n);
    // A kernel writer and a user reader of the same frame alias physically.
    p2.map(0x500000n, kf!, 0x1000n);
    kernel.activate();
    const w = kernel.writer(0xffff800000100000n, 16);
    w.writeVal(8, 0x1122334455667788n);
    p2.activate();
    expect(() => p2.reader(0x500000n, 8)).toThrow(OwnershipError);
    w.close();
    const r = p2.reader(0x500000n, 8);
    expect(r.readVal(8)).toBe(0x1122334455667788n);
    r.close();
    expect(p1.owner.inv() && p2.owner.inv() && kernel.owner.inv()).toBe(true);
  });

  it("copies across two Mmus", () => {
    const a = setup();
    const b = setup();
    a.space.mapFresh(0x10000n, 0x2000n);
    b.space.mapFresh(0x20000n, 0x2000n);
    const data = new Uint8Array(0x2000).map((_, i) => (i * 7) & 0xff);
    a.space.withWriter(0x10000n, 0x2000, (w) => w.writeBytes(data));
    a.space.withReader(0x10000n, 0x2000, (r) => b.space.withWriter(0x20000n, 0x2000, (w) => expect(r.readFallible(w)).toEqual({ copied: 0x2000, fault: undefined })));
    expect(b.space.withReader(0x20000n, 0x2000, (r) => r.collect())).toEqual(data);
  });
});
