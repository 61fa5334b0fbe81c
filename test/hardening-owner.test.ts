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
import { AccessDenied, OwnershipError } from "../src/ostd/owner.js";
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

describe("disposeWriter and removeReader, called directly on the owner", () => {
  function withPages() {
    const mmu = new Mmu();
    const space = VmSpace.create(mmu, { debug: true });
    space.activate();
    space.mapFresh(0x10000n, 0x4000n);
    return { mmu, space, owner: space.owner };
  }
  const range = (a: bigint, b: bigint) => ({ start: a, end: b });

  it("disposeWriter gives the whole view back: the remaining view is as before, the token stays registered and can be activated again", () => {
    const { space, owner } = withPages();
    const before = owner.memView!.toString();
    const tok = owner.createWriter(range(0x11000n, 0x12800n));
    owner.activateWriter(tok);
    expect(tok.hasWriteView()).toBe(true);
    expect(owner.memView!.covers(0x11000n, 0x12800n)).toBe(false);
    expect(owner.canCreateReader(0x11000n, 1n)).toBe(false); // registered writers block readers, activated or not
    owner.disposeWriter(tok);
    expect(tok.memView).toBeUndefined();
    expect(tok.registered).toBe(true);
    expect(owner.writers).toEqual([tok]);
    expect(owner.memView!.toString()).toBe(before);
    expect(owner.inv()).toBe(true);
    // A second dispose is refused and changes nothing.
    expect(() => owner.disposeWriter(tok)).toThrow(OwnershipError);
    expect(owner.memView!.toString()).toBe(before);
    // The token is activated again; a writer handle over it copies.
    owner.activateWriter(tok);
    expect(owner.memView!.covers(0x11000n, 0x12800n)).toBe(false);
    owner.disposeWriter(tok);
    owner.removeWriter(tok);
    expect(owner.writers).toEqual([]);
    expect(() => owner.disposeWriter(tok)).toThrow(OwnershipError);
    expect(space.owner.inv()).toBe(true);
  });

  it("disposeWriter refuses a reader token, another space's token and a removed one", () => {
    const { mmu, owner } = withPages();
    const r = owner.createReader(range(0x10000n, 0x10100n));
    owner.activateReader(r);
    expect(() => owner.disposeWriter(r)).toThrow(OwnershipError);
    expect(r.hasReadView()).toBe(true);
    const other = VmSpace.create(mmu);
    other.activate();
    const w = other.owner.createWriter(range(0x10000n, 0x10100n));
    expect(() => owner.disposeWriter(w)).toThrow(OwnershipError);
    expect(() => owner.disposeWriter(undefined as never)).toThrow(ArgumentError);
  });

  it("removeReader ends the borrow and unregisters for good, by token or by id; later uses are refused", () => {
    const { space, owner } = withPages();
    const before = owner.memView!.toString();
    const a = owner.createReader(range(0x10000n, 0x11000n));
    const b = owner.createReader(range(0x12000n, 0x13000n));
    owner.activateReader(a);
    expect(owner.canCreateWriter(0x10000n, 0x10n)).toBe(false);
    owner.removeReader(a);
    expect(a.registered).toBe(false);
    expect(a.memView).toBeUndefined();
    expect(owner.readers).toEqual([b]);
    expect(owner.canCreateWriter(0x10000n, 0x10n)).toBe(true);
    expect(owner.memView!.toString()).toBe(before); // a reader only borrowed
    owner.removeReader(b.id);
    expect(owner.readers).toEqual([]);
    for (const f of [() => owner.removeReader(a), () => owner.removeReader(b.id), () => owner.activateReader(a), () => owner.disposeReader(a)]) expect(f).toThrow(OwnershipError);
    expect(() => owner.removeReader(owner.createWriter(range(0x13000n, 0x13100n)))).toThrow(OwnershipError); // a writer is not a reader
    expect(owner.writers.length).toBe(1);
    expect(space.owner.inv()).toBe(true);
  });

  it("a VmReader whose token was removed on the owner cannot copy", () => {
    const { space, owner } = withPages();
    const r = space.reader(0x10000n, 0x100n);
    owner.removeReader(r.token);
    expect(() => r.collect()).toThrow(OwnershipError);
    r.close(); // idempotent once removed
    expect(owner.readers).toEqual([]);
  });
});
