import { describe, it, expect } from "vitest";
import { Mmu } from "../src/mmu/mmu.js";
import { VmSpace, type VmSpaceOptions } from "../src/ostd/vm-space.js";
import { OwnershipError } from "../src/ostd/owner.js";
import { MemView } from "../src/ostd/mem-view.js";
import { InfallibleVmWriter, InfallibleVmReader } from "../src/ostd/io.js";

const BASE = 0x10000n;

function setup(opts: VmSpaceOptions = {}, pages = 8) {
  const mmu = new Mmu();
  const space = VmSpace.create(mmu, { debug: true, ...opts });
  space.activate();
  const frames = space.mapFresh(BASE, BigInt(pages) * 0x1000n);
  return { mmu, space, owner: space.owner, frames };
}

/** Everything a refused operation must leave as it was. */
function snapshot(space: VmSpace) {
  const o = space.owner;
  const toks = [...o.readers, ...o.writers].map((t) => `${t}:${t.memView?.kind ?? "none"}:${t.memView?.view.toString() ?? ""}`);
  return JSON.stringify({ toks, mv: o.memView!.toString(), total: o.mvRange!.toString(), active: o.active });
}

function refused(space: VmSpace, rule: string, fn: () => unknown): OwnershipError {
  const before = snapshot(space);
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(OwnershipError);
  expect((err as OwnershipError).rule).toBe(rule);
  expect((err as OwnershipError).code).toBe("OWNERSHIP");
  expect(snapshot(space)).toBe(before);
  expect(space.owner.inv()).toBe(true);
  return err as OwnershipError;
}

describe("create (can_create_reader / can_create_writer)", () => {
  it("an overlapping writer is refused, naming both tokens and ranges", () => {
    const { space, owner } = setup();
    const w1 = space.createWriter(BASE, 0x1000);
    expect(owner.canCreateWriter(BASE + 0x800n, 0x1000n)).toBe(false);
    const e = refused(space, "VmSpaceOwner::can_create_writer", () => space.createWriter(BASE + 0x800n, 0x1000));
    expect(e.message).toContain(`writer #${w1.token.id} [0x10000..0x11000)`);
    expect(e.message).toContain("[0x10800..0x11800)");
    expect(e.tokens).toEqual([w1.token.id]);
  });

  it("a reader over a writer is refused; a writer over a reader too", () => {
    const { space, owner } = setup();
    space.createWriter(BASE, 0x1000);
    expect(owner.canCreateReader(BASE + 0xfffn, 1n)).toBe(false);
    refused(space, "VmSpaceOwner::can_create_reader", () => space.createReader(BASE + 0xfffn, 1));
    space.createReader(BASE + 0x2000n, 0x100);
    refused(space, "VmSpaceOwner::can_create_writer", () => space.createWriter(BASE + 0x20ffn, 0x10));
  });

  it("overlapping readers: allowed with sharedReader (the default)", () => {
    const { space, owner } = setup();
    space.reader(BASE, 0x2000);
    const r2 = space.reader(BASE + 0x1000n, 0x2000);
    expect(r2.readVal(4)).toBe(0);
    expect(owner.readers).toHaveLength(2);
    expect(owner.inv()).toBe(true);
  });

  it("overlapping readers: refused without sharedReader (inv: readers pairwise disjoint)", () => {
    const { space } = setup({ sharedReader: false });
    space.createReader(BASE, 0x2000);
    refused(space, "VmSpaceOwner::inv", () => space.createReader(BASE + 0x1fffn, 1));
    space.createReader(BASE + 0x2000n, 1); // back to back is fine
  });

  it("back-to-back writers are legal; strictOverlap reproduces vostd's <= and refuses them", () => {
    const a = setup();
    a.space.writer(BASE, 0x1000);
    a.space.writer(BASE + 0x1000n, 0x1000);
    const b = setup({ strictOverlap: true });
    b.space.writer(BASE, 0x1000);
    expect(b.owner.canCreateWriter(BASE + 0x1000n, 0x1000n)).toBe(false);
    const e = refused(b.space, "VmSpaceOwner::can_create_writer", () => b.space.createWriter(BASE + 0x1000n, 0x1000));
    expect(e.message).toContain("strictOverlap");
  });

  it("two writers over disjoint bytes of one page are legal and touch only their bytes", () => {
    const { space, mmu, frames } = setup();
    const w1 = space.writer(BASE, 8);
    const w2 = space.writer(BASE + 8n, 8);
    w1.fill(0xaa);
    w2.fill(0xbb);
    expect([...mmu.memory.readBytes(frames[0]!, 17)]).toEqual([...Array(8).fill(0xaa), ...Array(8).fill(0xbb), 0]);
    expect(() => w1.writeVal(1, 1)).toThrow(); // w1 is full: no byte beyond its range
  });

  it("ids are fresh and never reused", () => {
    const { space, owner } = setup();
    const ids = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const r = space.createReader(BASE, 16);
      expect(ids.has(r.token.id)).toBe(false);
      ids.add(r.token.id);
      r.remove();
    }
    expect(owner.newVmIoId()).toBeGreaterThan(Math.max(...ids));
  });

  it("an empty range overlaps nothing (half-open)", () => {
    const { space } = setup();
    space.createWriter(BASE, 0x1000);
    space.createWriter(BASE + 0x800n, 0);
    space.createReader(BASE + 0x800n, 0);
  });
});

describe("activate", () => {
  it("on an inactive space is refused", () => {
    const { mmu, space } = setup();
    const r = space.createReader(BASE, 16);
    const w = space.createWriter(BASE + 0x1000n, 16);
    VmSpace.create(mmu).activate();
    refused(space, "VmSpaceOwner::activate_reader", () => r.activate());
    refused(space, "VmSpaceOwner::activate_writer", () => w.activate());
  });

  it("when CR3 was changed behind the space's back, activation and copies are refused", () => {
    const { mmu, space } = setup();
    const r = space.reader(BASE, 16);
    const w = space.createWriter(BASE + 0x1000n, 16);
    mmu.cr3 = mmu.memory.allocFrame();
    refused(space, "VmSpaceOwner::activate_writer", () => w.activate());
    refused(space, "VmSpaceOwner::active", () => r.readVal(4));
    space.activate();
    expect(r.readVal(4)).toBe(0);
  });

  it("a writer takes its range out of the remaining view; dispose puts all of it back", () => {
    const { space, owner } = setup();
    const before = owner.memView!;
    const w = space.writer(BASE + 0x800n, 0x1000);
    expect(owner.memView!.addrTransl(BASE + 0x800n)).toBeUndefined();
    expect(owner.memView!.addrTransl(BASE + 0x7ffn)).toBeDefined();
    expect(owner.memView!.addrTransl(BASE + 0x1800n)).toBeDefined();
    expect(owner.mvRange!.addrTransl(BASE + 0x800n)).toBeDefined();
    expect(w.token.hasWriteView()).toBe(true);
    w.dispose();
    expect(owner.memView!.equals(before)).toBe(true);
    expect(w.token.registered).toBe(true);
    w.activate(); // can be activated again
    w.writeVal(2, 0xbeef);
  });

  it("a reader borrows: the remaining view is unchanged", () => {
    const { space, owner } = setup();
    const before = owner.memView!;
    const r = space.reader(BASE, 0x3000);
    expect(owner.memView).toBe(before);
    expect(r.token.hasReadView()).toBe(true);
    expect(r.token.memView!.view.covers(BASE, BASE + 0x3000n)).toBe(true);
  });

  it("over an unmapped page is refused", () => {
    const { space } = setup({}, 2);
    const r = space.createReader(BASE + 0x1000n, 0x2000);
    const e = refused(space, "VmSpaceOwner::activate_reader", () => r.activate());
    expect(e.message).toContain("0x12000 does not translate");
    // reader() (create + activate) removes the token again: nothing changed.
    const n = space.owner.readers.length;
    refused(space, "VmSpaceOwner::activate_reader", () => space.reader(BASE + 0x1000n, 0x2000));
    expect(space.owner.readers).toHaveLength(n);
  });

  it("twice is refused (mem_view is Some)", () => {
    const { space } = setup();
    const w = space.writer(BASE, 16);
    refused(space, "VmSpaceOwner::activate_writer", () => w.activate());
  });

  it("of the wrong kind is refused", () => {
    const { space, owner } = setup();
    const r = space.createReader(BASE, 16);
    refused(space, "VmSpaceOwner::activate_writer", () => owner.activateWriter(r.token));
    const w = space.writer(BASE + 0x1000n, 16);
    refused(space, "VmSpaceOwner::dispose_reader", () => owner.disposeReader(w.token));
  });

  it("a token of another space is refused", () => {
    const { mmu, space } = setup();
    const other = VmSpace.create(mmu, { debug: true });
    const r = space.createReader(BASE, 16);
    other.activate();
    expect(() => other.owner.activateReader(r.token)).toThrow(/belongs to/);
  });
});

describe("use, dispose, remove", () => {
  it("use after dispose is refused and copies nothing", () => {
    const { space, mmu, frames } = setup();
    const w = space.writer(BASE, 16);
    w.dispose();
    const e = refused(space, "VmIoOwner::has_write_view", () => w.writeVal(8, 0x1234n));
    expect(e.message).toContain(`writer #${w.token.id}`);
    expect(mmu.memory.read(frames[0]!, 8)).toBe(0n);
    const r = space.reader(BASE + 0x1000n, 16);
    r.dispose();
    refused(space, "VmIoOwner::has_read_view", () => r.readFallible(InfallibleVmWriter.from(new Uint8Array(16))));
    expect(r.cursor).toBe(BASE + 0x1000n);
  });

  it("use after remove is refused", () => {
    const { space } = setup();
    const w = space.writer(BASE, 16);
    w.remove();
    refused(space, "VmWriter::wf", () => w.writeVal(1, 1));
    refused(space, "VmSpaceOwner::activate_writer", () => w.activate());
    refused(space, "VmSpaceOwner::remove_writer", () => w.remove());
    refused(space, "VmSpaceOwner::remove_writer", () => space.owner.removeWriter(w.token.id));
  });

  it("double dispose is refused", () => {
    const { space } = setup();
    const r = space.reader(BASE, 16);
    r.dispose();
    refused(space, "VmSpaceOwner::dispose_reader", () => r.dispose());
    const w = space.writer(BASE + 0x1000n, 16);
    w.dispose();
    refused(space, "VmSpaceOwner::dispose_writer", () => w.dispose());
  });

  it("dispose without activation is refused", () => {
    const { space } = setup();
    const w = space.createWriter(BASE, 16);
    refused(space, "VmSpaceOwner::dispose_writer", () => w.dispose());
  });

  it("remove of an activated writer gives its view back first", () => {
    const { space, owner } = setup();
    const before = owner.memView!;
    const w = space.writer(BASE, 0x1800);
    owner.removeWriter(w.token);
    expect(owner.memView!.equals(before)).toBe(true);
    expect(owner.writers).toHaveLength(0);
    expect(w.token.registered).toBe(false);
  });

  it("withReader / withWriter / using always close, also when the body throws", () => {
    const { space, owner } = setup();
    expect(() => space.withWriter(BASE, 16, () => { throw new Error("boom"); })).toThrow("boom");
    expect(owner.writers).toHaveLength(0);
    expect(space.withReader(BASE, 16, (r) => r.readVal(8))).toBe(0n);
    expect(owner.readers).toHaveLength(0);
    {
      using w = space.writer(BASE, 16);
      w.writeVal(4, 7);
      expect(owner.writers).toHaveLength(1);
    }
    expect(owner.writers).toHaveLength(0);
    const r = space.reader(BASE, 16);
    r.close();
    r.close(); // idempotent
  });

  it("withWriter closes after an async body settles", async () => {
    const { space, owner } = setup();
    const p = space.withWriter(BASE, 16, async (w) => {
      await Promise.resolve();
      w.writeVal(1, 5);
      return 1;
    });
    expect(owner.writers).toHaveLength(1);
    await p;
    expect(owner.writers).toHaveLength(0);
  });
});

describe("page-table changes under tokens", () => {
  it("unmap under a writer is refused", () => {
    const { space } = setup();
    const w = space.writer(BASE + 0x1ff0n, 0x20);
    const e = refused(space, "VmSpaceOwner::mem_view_wf", () => space.unmap(BASE + 0x2000n, 0x1000n));
    expect(e.tokens).toEqual([w.token.id]);
    expect(space.query(BASE + 0x2000n)).toBeDefined();
  });

  it("protect under a reader and map into a held range are refused", () => {
    const { space } = setup();
    space.reader(BASE, 0x1000);
    refused(space, "VmSpaceOwner::mem_view_wf", () => space.protect(BASE, 0x1000n, { user: true }));
    refused(space, "VmSpaceOwner::mem_view_wf", () => space.map(BASE, 0x900000n, 0x1000n));
  });

  it("changes next to a token, or under a disposed one, are allowed", () => {
    const { space } = setup();
    const w = space.writer(BASE + 0x1000n, 0x1000);
    space.unmap(BASE, 0x1000n);
    space.unmap(BASE + 0x2000n, 0x1000n);
    w.dispose();
    space.unmap(BASE + 0x1000n, 0x1000n);
    refused(space, "VmSpaceOwner::activate_writer", () => w.activate());
  });

  it("with strictOverlap (vostd's <= between tokens), a change back to back with a held range is still allowed", () => {
    const { space } = setup({ strictOverlap: true });
    const w = space.writer(BASE + 0x1000n, 0x1000);
    const r = space.reader(BASE + 0x3000n, 0x1000);
    space.unmap(BASE, 0x1000n); // ends where the writer starts
    space.unmap(BASE + 0x2000n, 0x1000n); // starts where the writer ends, ends where the reader starts
    refused(space, "VmSpaceOwner::mem_view_wf", () => space.unmap(BASE + 0x3000n, 0x1000n));
    w.close();
    r.close();
    space.unmap(BASE + 0x1000n, 0x1000n);
  });
});

describe("physical aliasing", () => {
  function aliased(opts: VmSpaceOptions = {}) {
    const s = setup(opts, 1);
    s.space.map(0x80000n, s.frames[0]!, 0x1000n); // a second virtual address of frame 0
    return s;
  }

  it("a reader through a second virtual address of a writer's frame is refused", () => {
    const { space } = aliased();
    const w = space.writer(BASE, 0x10);
    const e = refused(space, "x86mmu::no_physical_alias", () => space.reader(0x80000n, 0x10));
    expect(e.tokens).toContain(w.token.id);
    space.reader(0x80010n, 0x10); // other bytes of the frame are fine
  });

  it("a writer through a second virtual address of a reader's or writer's frame is refused", () => {
    const { space } = aliased();
    space.reader(BASE, 0x10);
    refused(space, "x86mmu::no_physical_alias", () => space.writer(0x80008n, 0x10));
    space.writer(0x80800n, 0x10);
    refused(space, "x86mmu::no_physical_alias", () => space.writer(BASE + 0x800n, 1));
  });

  it("across spaces of one Mmu", () => {
    const { mmu, space, frames } = setup({}, 1);
    const other = VmSpace.create(mmu, { debug: true });
    other.map(0x30000n, frames[0]!, 0x1000n);
    const w = space.writer(BASE, 0x1000);
    other.activate();
    refused(other, "x86mmu::no_physical_alias", () => other.reader(0x30000n, 4));
    w.close();
    expect(other.withReader(0x30000n, 4, (r) => r.readVal(4))).toBe(0);
  });

  it("can be turned off per space (trackPhysicalAliasing: false)", () => {
    const { space } = aliased({ trackPhysicalAliasing: false });
    space.writer(BASE, 0x10);
    const r = space.reader(0x80000n, 0x10);
    expect(r.readVal(8)).toBe(0n);
    expect(space.owner.tracksAliasing).toBe(false);
  });
});

describe("inv() and memViewWf()", () => {
  it("hold through a lifecycle and catch a broken shortcut", () => {
    const { space, owner, mmu } = setup();
    const w = space.writer(BASE, 0x1000);
    space.reader(BASE + 0x2000n, 0x1000);
    expect(owner.inv()).toBe(true);
    expect(owner.memViewWf()).toBe(true);
    // Break it on purpose: give the writer's mappings back to the remaining view behind its back.
    const saved = owner.memView!;
    owner.memView = owner.mvRange;
    expect(owner.memViewWf()).toBe(false);
    expect(owner.invViolations().join()).toContain(`${w.token}'s view shares bytes with the remaining view`);
    owner.memView = saved;
    expect(owner.inv()).toBe(true);
    // A page-table change that bypasses the space breaks the page-table clause.
    mmu.activePageTable().unmap(BASE + 0x4000n, 0x1000n);
    expect(owner.inv()).toBe(false);
    expect(() => owner.assertInv()).toThrow(/does not map exactly the total view/);
  });

  it("debug mode re-checks after every operation", () => {
    const { space, owner, mmu } = setup();
    mmu.activePageTable().unmap(BASE + 0x4000n, 0x1000n);
    expect(() => space.createReader(BASE, 4)).toThrow(OwnershipError);
    owner.debug = false;
    space.createReader(BASE, 4);
  });
});

describe("MemView", () => {
  const v = MemView.ofMappings([
    { va: 0x1000n, pa: 0x5000n, size: 0x1000n, flags: 7n },
    { va: 0x2000n, pa: 0x6000n, size: 0x1000n, flags: 7n },
    { va: 0x4000n, pa: 0x9000n, size: 0x1000n, flags: 3n },
  ]);

  it("addrTransl, borrowAt, split (exact), join", () => {
    expect(v.pieces).toHaveLength(2); // 0x1000..0x3000 merged (contiguous pa)
    expect(v.addrTransl(0x2abcn)?.pa).toBe(0x6abcn);
    expect(v.addrTransl(0x3000n)).toBeUndefined();
    const b = v.borrowAt(0x1800n, 0x1000n);
    expect(b.bytes).toBe(0x1000n);
    expect(b.addrTransl(0x17ffn)).toBeUndefined();
    const [inside, rest] = v.split(0x1800n, 0x2900n);
    expect(inside.bytes + rest.bytes).toBe(v.bytes);
    expect(inside.disjointFrom(rest)).toBe(true);
    expect(rest.addrTransl(0x17ffn)?.pa).toBe(0x57ffn);
    expect(rest.addrTransl(0x4100n)?.pa).toBe(0x9100n);
    expect(inside.join(rest).equals(v)).toBe(true);
    expect(() => inside.join(v)).toThrow(/overlap/);
    expect(v.mappings().map((m) => m.va)).toEqual([0x1000n, 0x2000n, 0x4000n]);
    expect(inside.mappings().map((m) => m.va)).toEqual([0x1000n, 0x2000n, 0x4000n]);
  });
});

describe("MemView (property)", () => {
  it("split / join / borrowAt agree with a byte-level model, and split then join is the identity", async () => {
    const fc = (await import("fast-check")).default;
    const pageArb = fc.uniqueArray(fc.integer({ min: 0, max: 15 }), { maxLength: 12 });
    fc.assert(
      fc.property(pageArb, fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 16, maxLength: 16 }), fc.integer({ min: 0, max: 16 * 64 }), fc.integer({ min: 0, max: 6 * 64 }), (pages, frames, a, l) => {
        // Pages of 64 "bytes" scaled to 4 KiB units: page p -> frame (frames[p] contiguous-ish), to exercise merging.
        const v = MemView.ofMappings(pages.map((p) => ({ va: BigInt(p) * 0x1000n, pa: BigInt(p + frames[p]! * 16) * 0x1000n, size: 0x1000n, flags: 7n })));
        expect(v.wellFormed()).toBe(true);
        const va = BigInt(a) * 64n;
        const len = BigInt(l) * 64n;
        const [inside, rest] = v.split(va, len);
        expect(inside.wellFormed() && rest.wellFormed()).toBe(true);
        expect(inside.join(rest).equals(v)).toBe(true);
        expect(rest.join(inside).equals(v)).toBe(true);
        expect(inside.equals(v.borrowAt(va, len))).toBe(true);
        const key = (t: { pa: bigint } | undefined) => (t ? t.pa : -1n);
        for (let x = 0n; x < 16n * 0x1000n; x += 64n) {
          const t = key(v.addrTransl(x));
          const inR = x >= va && x < va + len;
          if (key(inside.addrTransl(x)) !== (inR ? t : -1n) || key(rest.addrTransl(x)) !== (inR ? -1n : t)) expect.fail(`translation of 0x${x.toString(16)} differs`);
        }
      }),
      { numRuns: 200 },
    );
  });
});
