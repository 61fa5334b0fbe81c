/**
 * Issue 13, defect 11 (the rest): raw errors become typed ones.
 * - a hook spec with `before: "x"` was accepted and failed on the first access;
 * - `dirtyLog.bitmap(0, n)` with a number start threw a raw TypeError;
 * - a bigint access (`translate(va, 1n)`) crashed on mixing BigInt;
 * - a fault handler, hook or device that performs the access that called it
 *   recursed until the stack overflowed (RangeError): callbacks now nest at
 *   most MAX_CALLBACK_DEPTH deep, then ReentrancyError;
 * - a Batch used again by a callback while one of its own loads runs would
 *   read addresses the callback wrote: refused with ReentrancyError;
 * - translateBatch took new buffers in linear memory on every call.
 */
import { describe, it, expect } from "vitest";
import { Mmu, LONG_MODE, ArgumentError, X86MmuError, ReentrancyError, MAX_CALLBACK_DEPTH, encodeAccess, PageFault } from "../src/index.js";

function setup() {
  const mmu = new Mmu();
  const pt = mmu.createPageTable();
  pt.map(0x400000n, 0x200000n, 0x2000n, { flags: { writable: true } });
  pt.map(0x600000n, 0xfee00000n, 0x1000n, { flags: { writable: true } });
  mmu.loadState({ ...LONG_MODE, cr3: pt.root });
  return { mmu, pt };
}

describe("arguments that used to raise raw errors", () => {
  it("a hook spec is checked when it is added, and a refused one registers nothing", () => {
    const { mmu } = setup();
    const bad: unknown[] = [
      { space: "linear", start: 0x400000n, length: 0x1000n, before: "x" },
      { space: "linear", start: 0x400000n, length: 0x1000n, after: 5 },
      { space: "linear", start: 0x400000n, length: 0x1000n, ops: "read", before: () => {} },
      { space: "linear", start: 0x400000n, length: 0x1000n, ops: [1n], before: () => {} },
      { space: 1n, start: 0, length: 1 },
      null,
      7,
    ];
    for (const spec of bad) expect(() => mmu.addHook(spec as never), JSON.stringify(spec, (_k, v) => (typeof v === "bigint" ? String(v) : v))).toThrow(ArgumentError);
    mmu.write(0x400000n, 4, 1); // no hook fires (none was registered)
    expect(mmu.read(0x400000n, 4)).toBe(1n);
  });

  it("dirtyLog.bitmap takes a number start, and refuses a bad frame count", () => {
    const { mmu } = setup();
    mmu.dirtyLog.start();
    mmu.write(0x401000n, 1, 1);
    expect([...mmu.dirtyLog.bitmap(0x200000, 2)]).toEqual([2]);
    expect([...mmu.dirtyLog.bitmap(0x200000n, 2)]).toEqual([2]);
    expect(() => mmu.dirtyLog.bitmap(0, -1)).toThrow(ArgumentError);
    expect(() => mmu.dirtyLog.bitmap(0, 1.5)).toThrow(ArgumentError);
    expect(() => mmu.dirtyLog.bitmap(-1, 1)).toThrow(ArgumentError);
  });

  it("a bigint, symbol or prototype-named access is an ArgumentError", () => {
    const { mmu } = setup();
    const accesses: unknown[] = [1n, { op: 1n }, { op: "toString" }, { op: "constructor" }, { op: Symbol("r") }, Object.create(null), null, "read"];
    for (const a of accesses) {
      expect(() => mmu.translate(0x400000n, a as never)).toThrow(ArgumentError);
      expect(() => mmu.translateNumber(0x400000, a as never)).toThrow(ArgumentError);
      expect(() => encodeAccess(a as never)).toThrow(ArgumentError);
    }
    expect(() => mmu.read(Object.create(null), 4)).toThrow(ArgumentError);
  });
});

describe("callbacks that call back", () => {
  it("a fault handler that faults again and again is stopped at MAX_CALLBACK_DEPTH with a ReentrancyError", () => {
    const { mmu } = setup();
    let calls = 0;
    mmu.onFault(() => {
      calls++;
      mmu.read(0x900000n, 4); // faults: the handler is called again, inside itself
      return "retry";
    });
    expect(() => mmu.read(0x800000n, 4)).toThrow(ReentrancyError);
    expect(calls).toBe(MAX_CALLBACK_DEPTH);
    // The Mmu is usable afterwards.
    expect(mmu.read(0x400000n, 4)).toBe(0n);
  });

  it("a hook that performs the access it watches, and a device that reads itself, are stopped the same way", () => {
    const { mmu } = setup();
    const h = mmu.addHook({ space: "linear", start: 0x401000n, length: 0x1000n, ops: ["read"], before: () => void mmu.read(0x401000n, 4) });
    expect(() => mmu.read(0x401000n, 4)).toThrow(ReentrancyError);
    expect(() => mmu.readBytes(0x400ff0n, 32)).toThrow(ReentrancyError);
    h.remove();
    expect(mmu.read(0x401000n, 4)).toBe(0n);
    mmu.mapDevice(0xfee00000n, 0x1000n, { read: () => mmu.read(0x600000n, 4), write: () => {} });
    expect(() => mmu.read(0x600000n, 4)).toThrow(ReentrancyError);
    expect(() => mmu.memory.read(0xfee00000n, 4)).toThrow(X86MmuError);
  });

  it("bounded re-entrancy still allows a callback to use the Mmu", () => {
    const { mmu } = setup();
    mmu.mapDevice(0xfee00000n, 0x1000n, { read: () => Number(mmu.read(0x400000n, 4)) + 1, write: (_pa, _s, v) => mmu.write(0x400004n, 4, v) });
    mmu.write(0x400000n, 4, 41);
    expect(mmu.read(0x600000n, 4)).toBe(42n);
    mmu.write(0x600000n, 4, 7);
    expect(mmu.read(0x400004n, 4)).toBe(7n);
    // A fault handler that maps the page and retries.
    mmu.onFault((f, ctx) => {
      if (!(f instanceof PageFault)) return;
      (mmu.activePageTable() as ReturnType<Mmu["createPageTable"]>).map(ctx.va & ~0xfffn, 0x300000n, 0x1000n, { flags: { writable: true } });
      return "retry";
    });
    mmu.write(0x700010n, 4, 9);
    expect(mmu.memory.read(0x300010n, 4)).toBe(9n);
  });

  it("a Batch used by a callback during one of its own loads is refused; another Batch works", () => {
    const { mmu } = setup();
    const b = mmu.batch(4);
    const other = mmu.batch(4);
    let inner: unknown;
    mmu.mapDevice(0xfee00000n, 0x1000n, {
      read: () => {
        try {
          b.input[0] = 0x401000n;
          b.load(1, encodeAccess({ op: "read", size: 4 }));
        } catch (e) {
          inner = e;
        }
        other.input[0] = 0x400000n;
        other.load(1, encodeAccess({ op: "read", size: 4 }));
        return 5;
      },
      write: () => {},
    });
    b.input[0] = 0x600000n;
    b.input[1] = 0x400000n;
    expect(b.load(2, encodeAccess({ op: "read", size: 4 }))).toBe(2);
    expect(inner).toBeInstanceOf(ReentrancyError);
    expect(b.output[0]).toBe(5n);
  });

  it("translateBatch keeps one buffer", () => {
    const { mmu } = setup();
    const vas = BigUint64Array.of(0x400000n, 0x401000n);
    mmu.translateBatch(vas);
    const used = mmu.memory.bytesUsed;
    for (let i = 0; i < 100; i++) mmu.translateBatch(vas);
    expect(mmu.memory.bytesUsed).toBe(used);
    expect([...mmu.translateBatch(vas)]).toEqual([0x200000n, 0x201000n]);
  });
});
