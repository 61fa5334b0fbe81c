/**
 * Issue 13, defect 12: the owner-level createReader/createWriter used to
 * register a token before the interval index refused a backwards range (a
 * plain Error, `writers` listing it, inv() false from then on), and skipped
 * the wrap and active checks; canCreate* took bigints only and said yes to a
 * wrapping range. One validation now serves all of them.
 */
import { describe, it, expect } from "vitest";
import { Mmu } from "../src/mmu/mmu.js";
import { VmSpace } from "../src/ostd/vm-space.js";
import { AccessDenied } from "../src/ostd/owner.js";
import { ArgumentError } from "../src/base/errors.js";

function setup() {
  const mmu = new Mmu();
  const space = VmSpace.create(mmu);
  space.activate();
  return { mmu, space };
}

describe("owner-level token creation", () => {
  it("a backwards range is an ArgumentError and registers nothing", () => {
    const { space } = setup();
    expect(() => space.owner.createWriter({ start: 0x5000n, end: 0x4000n })).toThrow(ArgumentError);
    expect(() => space.owner.createReader({ start: 0x5000n, end: 0x4000n })).toThrow(ArgumentError);
    expect(space.owner.writers).toEqual([]);
    expect(space.owner.readers).toEqual([]);
    expect(space.owner.inv()).toBe(true);
  });

  it("a range past 2^64 or not made of bigints is refused", () => {
    const { space } = setup();
    expect(() => space.owner.createWriter({ start: 0n, end: (1n << 64n) + 1n })).toThrow(ArgumentError);
    expect(() => space.owner.createReader({ start: 0, end: 8 } as never)).toThrow(ArgumentError);
    expect(space.owner.inv()).toBe(true);
  });

  it("an inactive space refuses owner-level creation as the space-level one does", () => {
    const mmu = new Mmu();
    const space = VmSpace.create(mmu);
    expect(() => space.owner.createReader({ start: 0x1000n, end: 0x2000n })).toThrow(AccessDenied);
    expect(() => space.createReader(0x1000n, 0x1000n)).toThrow(AccessDenied);
  });

  it("canCreateReader/Writer take numbers too and refuse a wrapping range", () => {
    const { space } = setup();
    expect(space.owner.canCreateReader(0x10000, 8)).toBe(true);
    expect(space.owner.canCreateWriter(0x10000n, 8)).toBe(true);
    space.owner.createWriter({ start: 0x10000n, end: 0x10008n });
    expect(space.owner.canCreateReader(0x10004, 1)).toBe(false);
    expect(() => space.owner.canCreateWriter(0xfffffffffffff000n, 0x2000n)).toThrow(ArgumentError);
    expect(() => space.owner.canCreateReader(-1, 8)).toThrow(ArgumentError);
  });
});
