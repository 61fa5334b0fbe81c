/**
 * Embedding (issue 8), part 3: the dirty log and snapshots. Expected frame
 * lists are derived by hand: a frame is dirty when some byte of it was
 * written (guest store, bulk copy, physical API, or an accessed/dirty flag
 * the walk set in a page-table entry), whatever the PTE D flags say; a
 * snapshot's memory cost is the frames that held data at the snapshot and
 * were written since.
 */
import { describe, expect, it } from "vitest";
import { Mmu, LONG_MODE, encodeAccess, SnapshotError, type PageTable } from "../src/index.js";

const ADDR = 0x000ffffffffff000n;
const A = 1n << 5n;
const D = 1n << 6n;
const flags = { writable: true, user: true };

/** The page-table frames of the walk for `va` (PML4, PDPT, PD, PT) and the PTE's address, found by hand. */
function tables(mmu: Mmu, va: bigint): { frames: bigint[]; pte: bigint } {
  const frames: bigint[] = [];
  let table = mmu.cr3 & ADDR;
  let pte = 0n;
  for (let l = 4; l >= 1; l--) {
    frames.push(table);
    pte = table + ((va >> BigInt(12 + 9 * (l - 1))) & 511n) * 8n;
    table = mmu.memory.read(pte, 8) & ADDR;
  }
  return { frames, pte };
}

const sorted = (xs: bigint[]) => [...new Set(xs)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

// 0x400000.. 4 pages -> 0x20000.. ; 0x500000 -> 0x20000 (alias of the first)
function setup(): { mmu: Mmu; pt: PageTable } {
  const mmu = new Mmu();
  const pt = mmu.createPageTable();
  pt.map(0x400000n, 0x20000n, 0x4000n, { flags });
  pt.map(0x500000n, 0x20000n, 0x1000n, { flags });
  mmu.loadState({ ...LONG_MODE, cr3: pt.root });
  return { mmu, pt };
}

describe("dirty log", () => {
  it("lists the frames guest writes touched, and the table frames whose A/D flags the walk set", () => {
    const { mmu } = setup();
    const t = tables(mmu, 0x400000n);
    mmu.dirtyLog.start();
    expect(mmu.dirtyLog.running).toBe(true);
    mmu.write(0x400010n, 4, 1n); // first access: A in all four entries, D in the PTE; the data frame
    expect(mmu.dirtyLog.frames()).toEqual(sorted([...t.frames, 0x20000n]));
    mmu.dirtyLog.clear();
    expect(mmu.dirtyLog.frames()).toEqual([]);
    mmu.read(0x401000n, 1); // A in the PTE of 0x401000 only (upper entries have A already); a read writes no data
    expect(mmu.dirtyLog.frames()).toEqual([t.frames[3]]);
    mmu.dirtyLog.clear();
    mmu.read(0x401000n, 1); // nothing changes
    mmu.write(0x400010n, 4, 2n); // the TLB holds a write pointer for this page: the log still sees it
    expect(mmu.dirtyLog.frames()).toEqual([0x20000n]);
  });

  it("is independent of the PTE D flags", () => {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    pt.map(0x400000n, 0x20000n, 0x1000n, { flags: { ...flags, accessed: true, dirty: true } });
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    mmu.read(0x400000n, 1); // A in the upper entries
    mmu.dirtyLog.start();
    mmu.write(0x400000n, 1, 1n); // D was set already: no table write, but the frame is written
    expect(mmu.dirtyLog.frames()).toEqual([0x20000n]);
    // clearing D by hand does not matter either: a write lists the frame once more after a clear
    const { pte } = tables(mmu, 0x400000n);
    mmu.dirtyLog.clear();
    mmu.memory.write(pte, 8, mmu.memory.read(pte, 8) & ~D);
    mmu.dirtyLog.clear();
    mmu.storeNumber(0x400001, encodeAccess({ op: "write" }), 5); // TLB hit: the stale TLB entry keeps D, no walk
    expect(mmu.dirtyLog.frames()).toEqual([0x20000n]);
  });

  it("lists frames written by writeBytes, Batch.store, the physical API and aliases, each once", () => {
    const { mmu } = setup();
    mmu.write(0x400000n, 1, 0n); // A/D set in the tables of 0x400000
    for (const va of [0x401000n, 0x402000n, 0x403000n, 0x500000n]) mmu.write(va, 1, 0n);
    mmu.dirtyLog.start();
    mmu.writeBytes(0x400ff0n, new Uint8Array(0x20).fill(1)); // 0x20000 and 0x21000
    expect(mmu.dirtyLog.frames()).toEqual([0x20000n, 0x21000n]);
    mmu.dirtyLog.clear();
    const b = mmu.batch(3);
    b.input.set([0x402000n, 0x402008n, 0x500000n]); // 0x500000 aliases 0x20000
    b.values.set([1n, 2n, 3n]);
    expect(b.store(3, { op: "write", size: 8 })).toBe(3);
    expect(mmu.dirtyLog.frames()).toEqual([0x20000n, 0x22000n]);
    mmu.dirtyLog.clear();
    mmu.memory.write(0x23008n, 8, 7n);
    mmu.memory.writeBytes(0x90ff8n, new Uint8Array(16).fill(2)); // frames that had no storage yet
    expect(mmu.dirtyLog.frames()).toEqual([0x23000n, 0x90000n, 0x91000n]);
    const bits = mmu.dirtyLog.bitmap(0x20000n, 16); // frames 0x20000..0x2f000: only 0x23000 (bit 3)
    expect([...bits]).toEqual([0b1000, 0]);
    expect([...mmu.dirtyLog.bitmap(0x8f000n, 4)]).toEqual([0b0110]);
  });

  it("stop forgets the list and stops logging; start again logs afresh", () => {
    const { mmu } = setup();
    mmu.dirtyLog.start();
    mmu.memory.write(0x30000n, 1, 1);
    mmu.dirtyLog.stop();
    expect(mmu.dirtyLog.running).toBe(false);
    expect(mmu.dirtyLog.frames()).toEqual([]);
    mmu.memory.write(0x31000n, 1, 1);
    expect(mmu.dirtyLog.frames()).toEqual([]);
    mmu.dirtyLog.start();
    mmu.memory.write(0x30000n, 1, 2);
    expect(mmu.dirtyLog.frames()).toEqual([0x30000n]);
  });

  it("frames a restore changes are listed in the dirty log", () => {
    const { mmu } = setup();
    mmu.memory.write(0x30000n, 8, 1n);
    mmu.dirtyLog.start();
    const s = mmu.snapshot();
    mmu.memory.write(0x30000n, 8, 2n);
    mmu.dirtyLog.clear();
    mmu.restore(s);
    expect(mmu.memory.read(0x30000n, 8)).toBe(1n);
    expect(mmu.dirtyLog.frames()).toEqual([0x30000n]);
  });
});

describe("snapshots", () => {
  it("restore brings memory and registers back; the TLB is flushed", () => {
    const { mmu, pt } = setup();
    mmu.write(0x400000n, 8, 0x1111n);
    const pkru = 0x0c;
    mmu.pkru = pkru;
    const regs = mmu.state;
    const s = mmu.snapshot();
    mmu.write(0x400000n, 8, 0x2222n); // TLB now holds a write pointer to the frame
    mmu.storeNumber(0x400008, encodeAccess({ op: "write", size: 4 }), 0x3333);
    const other = mmu.createPageTable();
    other.map(0x400000n, 0x60000n, 0x1000n, { flags });
    mmu.cr3 = other.root;
    mmu.pkru = 0;
    mmu.restore(s);
    expect(mmu.state).toEqual(regs);
    expect(mmu.read(0x400000n, 8)).toBe(0x1111n);
    expect(mmu.read(0x400008n, 4)).toBe(0n);
    expect(mmu.translate(0x400000n)).toBe(0x20000n);
    void pt;
  });

  it("restores writes made through aliases (two linear addresses, one frame)", () => {
    const { mmu } = setup();
    mmu.write(0x400100n, 8, 0xaaaan);
    expect(mmu.read(0x500100n, 8)).toBe(0xaaaan);
    const s = mmu.snapshot();
    mmu.write(0x500100n, 8, 0xbbbbn); // through the alias
    expect(mmu.read(0x400100n, 8)).toBe(0xbbbbn);
    mmu.restore(s);
    expect(mmu.read(0x400100n, 8)).toBe(0xaaaan);
    expect(mmu.read(0x500100n, 8)).toBe(0xaaaan);
    expect(s.frames).toBe(0); // restored: the snapshot's epoch starts afresh
  });

  it("restores page-table changes (map, unmap, protect) and the A/D flags walks set", () => {
    const { mmu, pt } = setup();
    const { pte } = tables(mmu, 0x401000n);
    const before = mmu.memory.read(pte, 8);
    expect(before & (A | D)).toBe(0n);
    const s = mmu.snapshot();
    mmu.write(0x401000n, 1, 1n); // sets A/D
    pt.unmap(0x402000n, 0x1000n);
    pt.protect(0x403000n, 0x1000n, { user: true });
    pt.map(0x600000n, 0x70000n, 0x1000n, { flags });
    expect(mmu.translate(0x600000n)).toBe(0x70000n);
    mmu.restore(s);
    expect(mmu.memory.read(pte, 8)).toBe(before);
    expect(mmu.translate(0x402000n)).toBe(0x22000n);
    expect(mmu.probe(0x403000n)).toMatchObject({ ok: true, writable: true });
    expect(mmu.probe(0x600000n).ok).toBe(false);
    expect(() => mmu.translate(0x600000n)).toThrow(); // no stale TLB entry
  });

  it("costs the frames written since the snapshot, each once, whatever the memory size", () => {
    const { mmu } = setup();
    const base = 0x500000n; // 64 physical frames with data
    for (let i = 0; i < 64; i++) mmu.memory.write(base + BigInt(i) * 0x1000n, 8, BigInt(i + 1));
    const s = mmu.snapshot();
    expect(s.frames).toBe(0);
    for (let k = 0; k < 5; k++) for (let i = 0; i < 10; i++) mmu.memory.write(base + BigInt(i) * 0x1000n, 8, BigInt(100 + k));
    expect(s.frames).toBe(10);
    expect(s.bytes).toBe(10 * 4096);
    mmu.memory.write(0x9000000n, 1, 1); // a frame with no storage at the snapshot: nothing to copy
    expect(s.frames).toBe(10);
    mmu.restore(s);
    for (let i = 0; i < 64; i++) expect(mmu.memory.read(base + BigInt(i) * 0x1000n, 8)).toBe(BigInt(i + 1));
  });

  it("frames created after the snapshot are dropped on restore (framesInUse back); freed ones come back", () => {
    const { mmu } = setup();
    mmu.memory.write(0x30000n, 8, 0x33n);
    const inUse = mmu.memory.framesInUse;
    const frames = mmu.memory.frames();
    const s = mmu.snapshot();
    for (let i = 0n; i < 20n; i++) mmu.memory.write(0x1000000n + i * 0x1000n, 1, 1);
    mmu.memory.allocFrame();
    mmu.memory.freeFrame(0x30000n);
    expect(mmu.memory.framesInUse).toBe(inUse + 20);
    mmu.restore(s);
    expect(mmu.memory.framesInUse).toBe(inUse);
    expect(mmu.memory.frames()).toEqual(frames);
    expect(mmu.memory.read(0x30000n, 8)).toBe(0x33n);
    expect(mmu.memory.read(0x1000000n, 1)).toBe(0n);
  });

  it("after restore, allocFrame does not hand out a frame that was in use at the snapshot", () => {
    const mmu = new Mmu();
    const f = mmu.memory.allocFrame();
    mmu.memory.write(f, 8, 0x1234n);
    const s = mmu.snapshot();
    mmu.memory.freeFrame(f);
    mmu.restore(s);
    expect(mmu.memory.read(f, 8)).toBe(0x1234n);
    expect(mmu.memory.allocFrame()).not.toBe(f);
    expect(mmu.memory.read(f, 8)).toBe(0x1234n);
  });

  it("restoring the same snapshot many times (a fuzzing loop) undoes each run", () => {
    const { mmu } = setup();
    mmu.writeBytes(0x400000n, Uint8Array.from({ length: 0x4000 }, (_, i) => i & 0xff));
    const golden = mmu.readBytes(0x400000n, 0x4000);
    const inUse = mmu.memory.framesInUse;
    const s = mmu.snapshot();
    const st = encodeAccess({ op: "write", size: 4 });
    for (let run = 0; run < 20; run++) {
      for (let i = 0; i < 50; i++) mmu.storeNumber(0x400000 + ((run * 977 + i * 331) % 0x3ffc), st, (run << 8) | i);
      mmu.memory.write(0x2000000n + BigInt(run) * 0x1000n, 1, 1);
      mmu.restore(s);
      expect(s.valid).toBe(true);
      expect(Buffer.from(mmu.readBytes(0x400000n, 0x4000)).equals(Buffer.from(golden))).toBe(true);
      expect(mmu.memory.framesInUse).toBe(inUse);
    }
  });

  it("nested snapshots: restoring an older one ends the newer ones; restoring the newer first works", () => {
    const { mmu } = setup();
    mmu.memory.write(0x30000n, 8, 1n);
    const s1 = mmu.snapshot();
    mmu.memory.write(0x30000n, 8, 2n);
    const s2 = mmu.snapshot();
    mmu.memory.write(0x30000n, 8, 3n);
    mmu.memory.write(0x31000n, 8, 3n);
    mmu.restore(s2);
    expect(mmu.memory.read(0x30000n, 8)).toBe(2n);
    expect(mmu.memory.read(0x31000n, 8)).toBe(0n);
    expect(s1.valid && s2.valid).toBe(true);
    mmu.memory.write(0x30000n, 8, 4n);
    mmu.restore(s1);
    expect(mmu.memory.read(0x30000n, 8)).toBe(1n);
    expect(s2.valid).toBe(false);
    expect(() => mmu.restore(s2)).toThrow(SnapshotError);
    expect(s1.valid).toBe(true);
  });

  it("release ends a snapshot; releasing a middle one keeps the older one exact", () => {
    const { mmu } = setup();
    mmu.memory.write(0x30000n, 8, 1n);
    mmu.memory.write(0x31000n, 8, 1n);
    const s1 = mmu.snapshot();
    mmu.memory.write(0x30000n, 8, 2n);
    const s2 = mmu.snapshot();
    mmu.memory.write(0x31000n, 8, 2n);
    mmu.memory.write(0x30000n, 8, 3n);
    const s3 = mmu.snapshot();
    s2.release();
    expect(s2.valid).toBe(false);
    expect(() => mmu.restore(s2)).toThrow(SnapshotError);
    expect(() => s2.release()).toThrow(SnapshotError);
    mmu.memory.write(0x32000n, 8, 9n);
    mmu.restore(s3);
    expect(mmu.memory.read(0x32000n, 8)).toBe(0n);
    expect(mmu.memory.read(0x30000n, 8)).toBe(3n);
    mmu.restore(s1);
    expect(mmu.memory.read(0x30000n, 8)).toBe(1n);
    expect(mmu.memory.read(0x31000n, 8)).toBe(1n);
    // releasing the newest, then writing: the older snapshot still saves and restores the frame
    const s4 = mmu.snapshot();
    mmu.memory.write(0x30000n, 8, 5n);
    s4.release();
    mmu.memory.write(0x30000n, 8, 6n);
    mmu.restore(s1);
    expect(mmu.memory.read(0x30000n, 8)).toBe(1n);
  });

  it("a snapshot of another Mmu, or one ended by memory.reset, is refused with SnapshotError", () => {
    const a = setup().mmu;
    const b = setup().mmu;
    const sa = a.snapshot();
    expect(() => b.restore(sa)).toThrow(SnapshotError);
    b.memory.write(0x30000n, 1, 1);
    expect(b.memory.read(0x30000n, 1)).toBe(1n); // b unchanged by the refusal
    a.memory.reset();
    expect(sa.valid).toBe(false);
    expect(() => a.restore(sa)).toThrow(SnapshotError);
  });
});
