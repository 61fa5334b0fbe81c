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

/**
 * The re-entrancy matrix: every callback kind (device read, device write,
 * before hook, after hook, fault handler) performs every kind of Mmu
 * operation; each inner operation gives its correct result (or a typed
 * refusal, where the README documents one), and the outer access that called
 * back still gives its own correct result.
 */
describe("every callback kind calls every kind of Mmu operation", () => {
  const RAM = 0x400000n; // -> 0x200000 (2 pages); 0x401000 carries the hooks
  const DEVVA = 0x600000n; // -> the device at 0xfee00000
  const FAULTVA = 0x800000n; // unmapped until the fault handler maps it to 0x202000
  const RD4 = encodeAccess({ op: "read", size: 4 });
  const WR4 = encodeAccess({ op: "write", size: 4 });

  type Ctx = { mmu: Mmu; pt: ReturnType<Mmu["createPageTable"]> };
  /** Inner operations on the first page (never the hooked one, never the device): each returns normally when its result was right. */
  const inner: [string, (c: Ctx) => void][] = [
    ["translate", ({ mmu }) => expect(mmu.translate(RAM + 0x10n)).toBe(0x200010n)],
    ["tryTranslate/probe", ({ mmu }) => {
      expect(mmu.tryTranslate(RAM)).toMatchObject({ ok: true, pa: 0x200000n });
      expect(mmu.probe(RAM)).toMatchObject({ ok: true, pa: 0x200000n });
    }],
    ["translateNumber", ({ mmu }) => expect(mmu.translateNumber(0x400010, RD4)).toBe(0x200010)],
    ["read", ({ mmu }) => expect(mmu.read(RAM + 0x10n, 4)).toBe(0x1234n)],
    ["write", ({ mmu }) => {
      mmu.write(RAM + 0x20n, 4, 0xbeef);
      expect(mmu.memory.read(0x200020n, 4)).toBe(0xbeefn);
    }],
    ["loadNumber/storeNumber", ({ mmu }) => {
      expect(mmu.storeNumber(0x400030, WR4, 0x77)).toBe(0);
      expect(mmu.loadNumber(0x400030, RD4)).toBe(0x77);
    }],
    ["readBytes", ({ mmu }) => expect([...mmu.readBytes(RAM + 0x10n, 2)]).toEqual([0x34, 0x12])],
    ["readInto", ({ mmu }) => {
      const t = new Uint8Array(2);
      mmu.readInto(RAM + 0x10n, t);
      expect([...t]).toEqual([0x34, 0x12]);
    }],
    ["writeBytes", ({ mmu }) => {
      mmu.writeBytes(RAM + 0x100n, Uint8Array.of(9, 8, 7));
      expect([...mmu.memory.readBytes(0x200100n, 3)]).toEqual([9, 8, 7]);
    }],
    ["batch translate/load/store", ({ mmu }) => {
      const b = mmu.batch(2);
      b.input.set([RAM + 0x10n, RAM + 0x40n]);
      expect(b.translate(2, RD4)).toBe(0);
      expect([...b.output]).toEqual([0x200010n, 0x200040n]);
      b.values.set([5n, 6n]);
      expect(b.store(2, WR4)).toBe(2);
      expect(b.load(2, RD4)).toBe(2);
      expect([...b.output]).toEqual([5n, 6n]);
      expect(mmu.translateBatch(BigUint64Array.of(RAM))[0]).toBe(0x200000n);
    }],
    ["map/unmap/protect", ({ mmu, pt }) => {
      pt.map(0x900000n, 0x203000n, 0x1000n, { flags: { writable: true } });
      mmu.write(0x900008n, 8, 0x99n);
      pt.protect(0x900000n, 0x1000n, { writable: false });
      mmu.invlpg(0x900000n);
      expect(() => mmu.write(0x900008n, 8, 1n)).toThrow(PageFault);
      pt.unmap(0x900000n, 0x1000n);
      mmu.invlpg(0x900000n);
      expect(mmu.tryTranslate(0x900000n).ok).toBe(false);
      expect(mmu.memory.read(0x203008n, 8)).toBe(0x99n);
    }],
    ["snapshot/restore", ({ mmu }) => {
      const s = mmu.snapshot();
      mmu.write(RAM + 0x200n, 8, 0xdeadn);
      mmu.restore(s);
      expect(mmu.read(RAM + 0x200n, 8)).toBe(0n);
      s.release();
    }],
    ["dirty log", ({ mmu }) => {
      mmu.dirtyLog.start();
      mmu.write(RAM + 0x300n, 1, 1);
      expect(mmu.dirtyLog.frames()).toContain(0x200000n);
      expect([...mmu.dirtyLog.bitmap(0x200000n, 1)]).toEqual([1]);
      mmu.dirtyLog.clear();
      mmu.dirtyLog.stop();
    }],
    ["flushTlb/invlpg/tlbEntries", ({ mmu }) => {
      mmu.flushTlb();
      mmu.translate(RAM);
      expect(mmu.tlbEntries().some((e) => e.linear === RAM)).toBe(true);
      mmu.invlpg(RAM);
    }],
    ["register setters", ({ mmu }) => {
      const { cr3, cr4 } = mmu.state;
      mmu.pkru = 0xc;
      expect(mmu.pkru).toBe(0xc);
      mmu.pkru = 0;
      mmu.cr3 = cr3; // MOV to CR3: flushes the non-global entries
      mmu.cr4 = cr4;
      mmu.efer = mmu.efer;
      expect(mmu.translate(RAM)).toBe(0x200000n);
    }],
    ["physical memory", ({ mmu }) => {
      mmu.memory.write(0x204000n, 8, 0x5an);
      expect(mmu.memory.read(0x204000n, 8)).toBe(0x5an);
      expect(mmu.memory.readBytes(0x200010n, 2)).toEqual(Uint8Array.of(0x34, 0x12));
    }],
  ];

  type Kind = {
    name: string;
    /** Installs the callback (which calls `cb` once) and runs the outer access; checks its result. */
    run: (c: Ctx, cb: () => void) => void;
  };
  const kinds: Kind[] = [
    {
      name: "device read",
      run: ({ mmu }, cb) => {
        mmu.mapDevice(0xfee00000n, 0x1000n, { read: () => (cb(), 0x42), write: () => {} });
        expect(mmu.read(DEVVA, 4)).toBe(0x42n);
      },
    },
    {
      name: "device write",
      run: ({ mmu }, cb) => {
        const seen: bigint[] = [];
        mmu.mapDevice(0xfee00000n, 0x1000n, { read: () => 0, write: (_pa, _s, v) => (cb(), void seen.push(v)) });
        mmu.write(DEVVA, 4, 7);
        expect(seen).toEqual([7n]);
      },
    },
    {
      name: "before hook",
      run: ({ mmu }, cb) => {
        mmu.addHook({ space: "linear", start: RAM + 0x1000n, length: 0x1000n, ops: ["read"], before: () => cb() });
        expect(mmu.read(RAM + 0x1010n, 4)).toBe(0x5678n);
      },
    },
    {
      name: "after hook",
      run: ({ mmu }, cb) => {
        mmu.addHook({ space: "physical", start: 0x201000n, length: 0x1000n, ops: ["write"], after: () => cb() });
        mmu.write(RAM + 0x1020n, 4, 0xabc);
        expect(mmu.memory.read(0x201020n, 4)).toBe(0xabcn);
      },
    },
    {
      name: "fault handler",
      run: ({ mmu, pt }, cb) => {
        mmu.onFault((f) => {
          if (!(f instanceof PageFault) || f.cr2 >> 12n !== FAULTVA >> 12n) return; // the inner operations' own faults are theirs
          cb();
          pt.map(FAULTVA, 0x202000n, 0x1000n, { flags: { writable: true } });
          return "retry";
        });
        expect(mmu.read(FAULTVA + 8n, 4)).toBe(0x55n);
      },
    },
  ];

  for (const kind of kinds) {
    it(`${kind.name}: every operation, inner result and outer result correct`, () => {
      const failures: string[] = [];
      for (const [name, op] of inner) {
        const mmu = new Mmu();
        const pt = mmu.createPageTable();
        pt.map(RAM, 0x200000n, 0x2000n, { flags: { writable: true } });
        pt.map(DEVVA, 0xfee00000n, 0x1000n, { flags: { writable: true } });
        mmu.loadState({ ...LONG_MODE, cr3: pt.root });
        mmu.memory.write(0x200010n, 4, 0x1234n);
        mmu.memory.write(0x201010n, 4, 0x5678n);
        mmu.memory.write(0x202008n, 4, 0x55n);
        const ctx = { mmu, pt };
        let calls = 0;
        let innerError: unknown;
        try {
          kind.run(ctx, () => {
            if (calls++ > 0) return;
            try {
              op(ctx);
            } catch (e) {
              innerError = e;
            }
          });
        } catch (e) {
          failures.push(`${name}: the outer access failed: ${(e as Error).message}`);
          continue;
        }
        if (calls === 0) failures.push(`${name}: the callback was not called`);
        if (innerError !== undefined) failures.push(`${name}: ${(innerError as Error).constructor.name}: ${(innerError as Error).message}`);
      }
      expect(failures).toEqual([]);
    });
  }

  it("a callback that reuses the Batch running it gets the documented typed refusal, and the outer result stays right", () => {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    pt.map(RAM, 0x200000n, 0x1000n, { flags: { writable: true } });
    pt.map(DEVVA, 0xfee00000n, 0x1000n, { flags: { writable: true } });
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    const b = mmu.batch(2);
    const refusals: unknown[] = [];
    mmu.mapDevice(0xfee00000n, 0x1000n, {
      read: () => {
        for (const f of [() => b.load(1, RD4), () => b.store(1, WR4), () => b.translate(1, RD4)]) {
          try {
            f();
          } catch (e) {
            refusals.push(e);
          }
        }
        return 3;
      },
      write: () => {},
    });
    b.input.set([DEVVA, RAM]);
    expect(b.load(2, RD4)).toBe(2);
    expect(b.output[0]).toBe(3n);
    expect(refusals.length).toBe(3);
    for (const e of refusals) expect(e).toBeInstanceOf(ReentrancyError);
  });
});
