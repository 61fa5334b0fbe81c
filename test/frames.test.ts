/**
 * The frame store (mmu.memory): a sparse physical memory up to 2^MAXPHYADDR.
 * Expectations come from the documented contract (src/physical-memory.ts) and
 * the SDM's notion of the physical-address width (Vol. 3A 4.1.4: MAXPHYADDR,
 * CPUID.80000008H:EAX[7:0]; physical addresses are below 2^MAXPHYADDR).
 */
import { describe, expect, it } from "vitest";
import { Mmu, LONG_MODE, PhysicalAddressError, OutOfMemoryError, ArgumentError, PageFault, RegisterError } from "../src/index.js";

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))
    ? -1
    : a.findIndex((x, i) => x !== b[i]);
}
function allBytes(a: Uint8Array, v: number): boolean {
  return firstDiff(a, new Uint8Array(a.length).fill(v)) === -1;
}

describe("unwritten memory", () => {
  it("reads as zero and takes no frame", () => {
    const mmu = new Mmu();
    const m = mmu.memory;
    expect(m.read(0n, 8)).toBe(0n);
    expect(m.read(0x1234n, 4)).toBe(0n);
    expect(m.read((1n << 52n) - 8n, 8)).toBe(0n);
    expect(m.read(0xffen, 8)).toBe(0n); // crosses a frame boundary
    expect(allBytes(m.readBytes(0x5000n, 10000), 0)).toBe(true);
    expect(allBytes(m.readBytes(1n << 51n, 3 * 4096 + 5), 0)).toBe(true);
    expect(m.framesInUse).toBe(0);
    expect(m.frames()).toEqual([]);
  });

  it("translated reads of unwritten memory take no frame either", () => {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    pt.map(0x400000n, 0x20000n, 0x4000n, { flags: { writable: true } });
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    const tables = mmu.memory.framesInUse; // PML4, PDPT, PD, PT
    expect(tables).toBe(4);
    expect(mmu.read(0x400008n, 8)).toBe(0n);
    expect(allBytes(mmu.readBytes(0x400000n, 0x4000), 0)).toBe(true);
    expect(mmu.memory.framesInUse).toBe(tables);
    mmu.write(0x401000n, 1, 7);
    expect(mmu.memory.framesInUse).toBe(tables + 1);
    expect(mmu.memory.frames()).toContain(0x21000n);
  });
});

describe("writes", () => {
  it("allocate one frame per 4 KiB frame touched", () => {
    const m = new Mmu().memory;
    m.write(0x1000n, 1, 0xaa);
    expect(m.framesInUse).toBe(1);
    m.write(0x1fffn, 1, 0xbb);
    expect(m.framesInUse).toBe(1);
    expect(m.frames()).toEqual([0x1000n]);
    m.write(0x0n, 8, 0n); // writing zeros still gives the frame storage
    expect(m.framesInUse).toBe(2);
    expect(m.frames()).toEqual([0x0n, 0x1000n]);
    expect(m.read(0x1000n, 1)).toBe(0xaan);
    expect(m.read(0x1fffn, 1)).toBe(0xbbn);
  });

  it("a write crossing a frame boundary lands in both frames, little-endian", () => {
    const m = new Mmu().memory;
    m.write(0x1ffen, 4, 0xaabbccdd);
    expect(m.framesInUse).toBe(2);
    expect(m.read(0x1ffen, 2)).toBe(0xccddn);
    expect(m.read(0x2000n, 2)).toBe(0xaabbn);
    expect(m.read(0x1ffen, 4)).toBe(0xaabbccddn);
    m.write(0x3ffdn, 8, 0x0807060504030201n);
    expect(m.readBytes(0x3ffdn, 8)).toEqual(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    expect(m.read(0x4000n, 1)).toBe(4n);
    // writeBytes over three frames
    const data = Uint8Array.from({ length: 8200 }, (_, i) => (i * 13) & 255);
    m.writeBytes(0x10ff0n, data); // 0x10ff0 + 8200 = 0x12ff8: frames 0x10000, 0x11000, 0x12000
    expect(firstDiff(m.readBytes(0x10ff0n, 8200), data)).toBe(-1);
    expect(m.frames().filter((f) => f >= 0x10000n && f < 0x20000n)).toEqual([0x10000n, 0x11000n, 0x12000n]);
    expect(m.read(0x12ff8n, 1)).toBe(0n);
    expect(m.read(0x10fefn, 1)).toBe(0n);
  });

  it("values round-trip at every size; sizes other than 1/2/4/8 are refused", () => {
    const m = new Mmu().memory;
    m.write(0x100n, 2, 0x3456);
    expect(m.read(0x100n, 4)).toBe(0x3456n);
    m.write(0x200n, 8, 0xffffffffffffffffn);
    expect(m.read(0x200n, 8)).toBe(0xffffffffffffffffn);
    expect(m.read(0x204n, 2)).toBe(0xffffn);
    m.write(0x300n, 1, 0xff);
    expect(m.read(0x300n, 8)).toBe(0xffn);
    expect(() => m.write(0x300n, 3 as 1, 1)).toThrow(ArgumentError);
    expect(() => m.read(0x300n, 16 as 8)).toThrow(ArgumentError);
    expect(() => m.write(0x300n, 8, 2 ** 53)).toThrow(ArgumentError);
  });
});

describe("physical-address limit (2^MAXPHYADDR)", () => {
  it("refuses reads and writes at or above 2^MAXPHYADDR, and ranges that end past it", () => {
    const mmu = new Mmu({ maxPhyAddr: 36 });
    const m = mmu.memory;
    const LIMIT = 1n << 36n;
    expect(() => m.read(LIMIT, 1)).toThrow(PhysicalAddressError);
    expect(() => m.write(LIMIT, 1, 1)).toThrow(PhysicalAddressError);
    expect(() => m.read(LIMIT - 4n, 8)).toThrow(PhysicalAddressError);
    expect(() => m.write(LIMIT - 4n, 8, 1n)).toThrow(PhysicalAddressError);
    expect(() => m.readBytes(LIMIT - 4096n, 4097)).toThrow(PhysicalAddressError);
    expect(() => m.writeBytes(LIMIT - 2n, new Uint8Array(4))).toThrow(PhysicalAddressError);
    expect(() => m.writeBytes(1n << 50n, new Uint8Array(1))).toThrow(PhysicalAddressError);
    expect(() => m.readBytes(1n << 63n, 1)).toThrow(PhysicalAddressError);
    expect(m.framesInUse).toBe(0); // the refused writes took no frame
    // the last bytes below the limit are fine
    m.write(LIMIT - 8n, 8, 0x55n);
    expect(m.read(LIMIT - 8n, 8)).toBe(0x55n);
    expect(m.readBytes(LIMIT - 4096n, 4096).length).toBe(4096);
    expect(m.framesInUse).toBe(1);
    try {
      m.read(LIMIT, 1);
    } catch (e) {
      expect((e as PhysicalAddressError).code).toBe("PHYS_RANGE");
    }
  });

  it("with MAXPHYADDR 52 the limit is 2^52", () => {
    const m = new Mmu().memory;
    expect(() => m.read(1n << 52n, 1)).toThrow(PhysicalAddressError);
    m.write((1n << 52n) - 1n, 1, 9);
    expect(m.read((1n << 52n) - 1n, 1)).toBe(9n);
  });

  it("negative or non-integer addresses are argument errors", () => {
    const m = new Mmu().memory;
    expect(() => m.read(-1n, 1)).toThrow(ArgumentError);
    expect(() => m.read(0.5, 1)).toThrow(ArgumentError);
    expect(() => m.readBytes(0n, -1)).toThrow(ArgumentError);
  });

  it("MAXPHYADDR cannot shrink below a frame that holds data", () => {
    const mmu = new Mmu();
    mmu.memory.write(1n << 40n, 8, 1n);
    expect(() => (mmu.maxPhyAddr = 40)).toThrow(RegisterError);
    expect(mmu.maxPhyAddr).toBe(52);
    mmu.maxPhyAddr = 41;
    expect(mmu.maxPhyAddr).toBe(41);
    expect(() => mmu.memory.read(1n << 41n, 1)).toThrow(PhysicalAddressError);
  });
});

describe("sparse addresses", () => {
  it("keeps frames far apart (0, 2^40, 2^51) independently", () => {
    const m = new Mmu().memory;
    const addrs = [0x0n, 1n << 40n, 1n << 51n, (1n << 51n) + (1n << 30n)];
    addrs.forEach((a, i) => m.write(a + 0x10n, 8, 0x1000n + BigInt(i)));
    expect(m.framesInUse).toBe(4);
    expect(m.frames()).toEqual(addrs);
    addrs.forEach((a, i) => {
      expect(m.read(a + 0x10n, 8)).toBe(0x1000n + BigInt(i));
      expect(m.read(a + 0x1000n, 8)).toBe(0n); // the next frame is untouched
      if (a > 0n) expect(m.read(a - 8n, 8)).toBe(0n);
    });
    // a page table far up in physical memory works too
    const mmu = new Mmu();
    mmu.memory.setAllocBase(1n << 50n);
    const pt = mmu.createPageTable();
    expect(pt.root).toBe(1n << 50n);
    pt.map(0x400000n, (1n << 51n) + 0x5000n, 0x1000n, { flags: { writable: true } });
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    mmu.write(0x400010n, 8, 0x77n);
    expect(mmu.memory.read((1n << 51n) + 0x5010n, 8)).toBe(0x77n);
  });
});

describe("frame allocation", () => {
  it("allocFrame returns distinct, 4 KiB-aligned, zeroed frames that hold storage", () => {
    const m = new Mmu().memory;
    const before = m.framesInUse;
    const frames = Array.from({ length: 100 }, () => m.allocFrame());
    expect(new Set(frames).size).toBe(100);
    for (const f of frames) {
      expect(f % 0x1000n).toBe(0n);
      expect(f < 1n << 52n).toBe(true);
      expect(allBytes(m.readBytes(f, 4096), 0)).toBe(true);
    }
    expect(m.framesInUse).toBe(before + 100);
  });

  it("allocFrame does not hand out a frame that already holds data", () => {
    const m = new Mmu().memory;
    // the allocator starts at 1 MiB (setAllocBase doc); put data in the first frames there
    for (let i = 0n; i < 4n; i++) m.write(0x100000n + i * 0x1000n + 8n, 8, 0xdead0000n + i);
    const f = Array.from({ length: 8 }, () => m.allocFrame());
    for (let i = 0n; i < 4n; i++) {
      expect(f).not.toContain(0x100000n + i * 0x1000n);
      expect(m.read(0x100000n + i * 0x1000n + 8n, 8)).toBe(0xdead0000n + i);
    }
    for (const x of f) expect(allBytes(m.readBytes(x, 4096), 0)).toBe(true);
  });

  it("freeFrame makes a frame read zero and release its storage; a reused frame is zeroed", () => {
    const m = new Mmu().memory;
    m.write(0x7008n, 8, 0x1234n);
    expect(m.framesInUse).toBe(1);
    m.freeFrame(0x7000n);
    expect(m.read(0x7008n, 8)).toBe(0n);
    expect(m.framesInUse).toBe(0);
    const a = m.allocFrame();
    m.write(a, 8, 0xffffn);
    m.freeFrame(a);
    expect(m.read(a, 8)).toBe(0n);
    const b = m.allocFrame();
    expect(allBytes(m.readBytes(b, 4096), 0)).toBe(true);
    expect(() => m.freeFrame(0x7008n)).toThrow(ArgumentError);
  });

  it("allocFrame returns a zeroed frame even if a freed frame was written since", () => {
    const m = new Mmu().memory;
    const a = m.allocFrame();
    m.freeFrame(a);
    m.write(a + 8n, 8, 0xbadn);
    const b = m.allocFrame();
    expect(allBytes(m.readBytes(b, 4096), 0)).toBe(true);
  });

  it("bytesUsed grows with frames and returns to its start after reset()", () => {
    const m = new Mmu().memory;
    const b0 = m.bytesUsed;
    m.write(0x1000n, 8, 1n);
    const b1 = m.bytesUsed;
    expect(b1).toBeGreaterThanOrEqual(b0 + 4096);
    m.write(1n << 45n, 8, 1n); // far away: new radix blocks as well
    m.write((1n << 45n) + 0x1000n, 8, 1n);
    expect(m.bytesUsed).toBeGreaterThanOrEqual(b1 + 2 * 4096);
    m.reset();
    expect(m.bytesUsed).toBe(b0);
  });

  it("bytesUsed shrinks when frames are freed", () => {
    const m = new Mmu().memory;
    m.write(0x1000n, 8, 1n);
    const b1 = m.bytesUsed;
    m.write(1n << 45n, 8, 1n);
    m.write((1n << 45n) + 0x1000n, 8, 1n);
    const b2 = m.bytesUsed;
    expect(b2).toBeGreaterThanOrEqual(b1 + 2 * 4096);
    m.freeFrame(1n << 45n);
    m.freeFrame((1n << 45n) + 0x1000n);
    // both frames' storage is released (the free list may keep a little bookkeeping)
    expect(m.bytesUsed).toBeLessThanOrEqual(b2 - 4096);
    expect(m.framesInUse).toBe(1);
  });
});

describe("reset()", () => {
  it("drops every frame and flushes the TLB", () => {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    pt.map(0x400000n, 0x20000n, 0x1000n, { flags: { writable: true } });
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    mmu.write(0x400000n, 8, 0x1111n);
    mmu.memory.write(1n << 40n, 8, 1n);
    expect(mmu.memory.framesInUse).toBe(6);
    mmu.memory.reset();
    expect(mmu.memory.framesInUse).toBe(0);
    expect(mmu.memory.frames()).toEqual([]);
    expect(mmu.memory.read(0x20000n, 8)).toBe(0n);
    expect(mmu.memory.read(1n << 40n, 8)).toBe(0n);
    // the tables are gone and no stale translation remains: PML4E not present
    expect(() => mmu.translate(0x400000n)).toThrow(PageFault);
    // MAXPHYADDR may shrink again
    mmu.maxPhyAddr = 36;
    expect(mmu.maxPhyAddr).toBe(36);
  });
});

/**
 * Writes 64 MiB chunks of data, 1 GiB apart in physical memory, until the
 * frame store runs out of linear memory (wasm32: at most 4 GiB), then checks
 * that the failing write wrote nothing, that earlier data is intact and that
 * the Mmu works again after memory.reset().
 *
 * `prefill`: first take ~3.5 GiB of linear memory with batch buffers, which
 * are reserved but never touched (so the kernel commits no page for them);
 * only the last ~0.5 GiB is then filled with frames. This keeps the test at a
 * few seconds; without it (X86MMU_SLOW=1) it fills all 4 GiB with frames,
 * ~30 s here.
 */
function fillUntilOutOfMemory(prefill: boolean): void {
  const mmu = new Mmu();
  const m = mmu.memory;
  const held = [];
  if (prefill) for (let i = 0; i < 14; i++) held.push(mmu.batch(1 << 24)); // 14 x 256 MiB
  const CHUNK = 64 * 1024 * 1024;
  const STRIDE = 1n << 30n;
  const FOUR_GIB = 2 ** 32;
  const buf = new Uint8Array(CHUNK);
  const tag = (k: number) => (k % 250) + 1;
  const fillChunk = (k: number) => {
    buf.fill(tag(k));
    buf[0] = 0xee; // mark the ends too
    buf[CHUNK - 1] = 0xef;
  };
  let failed = -1;
  let error: unknown;
  for (let k = 0; k < 80; k++) {
    fillChunk(k);
    try {
      m.writeBytes(BigInt(k) * STRIDE, buf);
    } catch (e) {
      failed = k;
      error = e;
      break;
    }
    // wasm32 linear memory cannot hold more than 4 GiB, nor 2^20 frames of 4 KiB
    expect(m.bytesUsed).toBeLessThanOrEqual(FOUR_GIB);
    expect(m.framesInUse).toBe((k + 1) * (CHUNK / 4096));
  }
  // 80 chunks of 64 MiB = 5 GiB > 4 GiB: the store must give out before.
  expect(failed).toBeGreaterThan(prefill ? 1 : 50);
  expect(error).toBeInstanceOf(OutOfMemoryError);
  expect((error as OutOfMemoryError).code).toBe("OUT_OF_MEMORY");
  const failedPa = BigInt(failed) * STRIDE;
  // The failing write wrote no byte.
  expect(allBytes(m.readBytes(failedPa, CHUNK), 0)).toBe(true);
  // It fails again when retried (the memory really is exhausted).
  fillChunk(failed);
  expect(() => m.writeBytes(failedPa, buf)).toThrow(OutOfMemoryError);
  expect(allBytes(m.readBytes(failedPa, CHUNK), 0)).toBe(true);
  // Earlier data is intact: the ends and a few pages of every chunk, the last one entirely.
  for (let k = 0; k < failed; k++) {
    const pa = BigInt(k) * STRIDE;
    expect(m.read(pa, 1)).toBe(0xeen);
    expect(m.read(pa + BigInt(CHUNK - 1), 1)).toBe(0xefn);
    expect(allBytes(m.readBytes(pa + 1n, 3 * 4096), tag(k))).toBe(true);
    expect(allBytes(m.readBytes(pa + BigInt(CHUNK - 1 - 8192), 8192), tag(k))).toBe(true);
  }
  fillChunk(failed - 1);
  expect(firstDiff(m.readBytes(BigInt(failed - 1) * STRIDE, CHUNK), buf)).toBe(-1);

  // After reset the Mmu works again, with room for as much data as before.
  m.reset();
  expect(m.framesInUse).toBe(0);
  const pt = mmu.createPageTable();
  pt.map(0x400000n, 0x20000n, 0x1000n, { flags: { writable: true } });
  mmu.loadState({ ...LONG_MODE, cr3: pt.root });
  mmu.write(0x400008n, 8, 0x5a5an);
  expect(mmu.read(0x400008n, 8)).toBe(0x5a5an);
  expect(m.read(0x20008n, 8)).toBe(0x5a5an);
  buf.fill(3);
  // (failed - 1 chunks: the new page table takes a few of the freed units)
  for (let k = 0; k < failed - 1; k++) m.writeBytes(BigInt(k) * STRIDE, buf);
  expect(allBytes(m.readBytes(BigInt(failed - 2) * STRIDE + BigInt(CHUNK - 4096), 4096), 3)).toBe(true);
  expect(held.length).toBe(prefill ? 14 : 0);
}

describe("out of memory (wasm32: at most 4 GiB of linear memory)", () => {
  it("fills memory until OutOfMemoryError; the failing write writes nothing; earlier data stays; reset recovers", { timeout: 120_000 }, () => {
    fillUntilOutOfMemory(true);
  });

  // The same with all 4 GiB filled by frames: ~30 s, so only with X86MMU_SLOW=1.
  it.runIf(process.env.X86MMU_SLOW === "1")("(slow) fills all 4 GiB with frames until OutOfMemoryError", { timeout: 300_000 }, () => {
    fillUntilOutOfMemory(false);
  });
});
