/**
 * Embedding (issue 8), part 2: access hooks on linear and physical ranges,
 * and fault handlers that fix a fault up and retry. Expected events and
 * values are derived by hand from the mappings below and the HookSpec /
 * FaultHandler contracts (once per access with its whole range; at most
 * MAX_FAULT_RETRIES retries).
 */
import { describe, expect, it } from "vitest";
import {
  Mmu, LONG_MODE, encodeAccess, ArgumentError, PageFault, GeneralProtection, MAX_FAULT_RETRIES, type AccessEvent, type Fault,
  type FaultContext,
} from "../src/index.js";

// 0x400000 -> 0x20000, 0x401000 -> 0x21000, 0x402000 -> 0x22000 (writable, user)
// 0x500000 -> 0x20000 (an alias of 0x400000's frame)
// 0x403000 read-only -> 0x23000; 0x404000.. not mapped
const flags = { writable: true, user: true };
function setup() {
  const mmu = new Mmu();
  const pt = mmu.createPageTable();
  pt.map(0x400000n, 0x20000n, 0x3000n, { flags });
  pt.map(0x500000n, 0x20000n, 0x1000n, { flags });
  pt.map(0x403000n, 0x23000n, 0x1000n, { flags: { user: true } });
  mmu.loadState({ ...LONG_MODE, cr3: pt.root });
  return { mmu, pt };
}

function recorder() {
  const events: (AccessEvent & { when: "before" | "after" })[] = [];
  return {
    events,
    before: (e: AccessEvent) => void events.push({ ...e, when: "before" }),
    after: (e: AccessEvent) => void events.push({ ...e, when: "after" }),
  };
}

describe("access hooks", () => {
  it("a linear hook fires before and after, with the value (written, or read)", () => {
    const { mmu } = setup();
    const r = recorder();
    mmu.addHook({ space: "linear", start: 0x400100n, length: 0x10n, before: r.before, after: r.after });
    mmu.write(0x400104n, 4, 0xcafef00dn);
    mmu.read(0x400100n, 8);
    expect(r.events).toEqual([
      { when: "before", op: "write", va: 0x400104n, pa: 0x20104n, size: 4, cpl: 0, value: 0xcafef00dn },
      { when: "after", op: "write", va: 0x400104n, pa: 0x20104n, size: 4, cpl: 0, value: 0xcafef00dn },
      { when: "before", op: "read", va: 0x400100n, pa: 0x20100n, size: 8, cpl: 0, value: undefined },
      { when: "after", op: "read", va: 0x400100n, pa: 0x20100n, size: 8, cpl: 0, value: 0xcafef00d00000000n },
    ]);
  });

  it("fires only for accesses that overlap its range and match its ops", () => {
    const { mmu } = setup();
    const r = recorder();
    mmu.addHook({ space: "linear", start: 0x400100n, length: 0x10n, ops: ["write"], before: r.before });
    mmu.read(0x400100n, 4); // op filtered
    mmu.write(0x4000f8n, 8, 1n); // ends at 0x400100: no overlap
    mmu.write(0x400110n, 1, 1n); // starts at the end: no overlap
    mmu.write(0x401100n, 1, 1n); // other page
    expect(r.events).toEqual([]);
    mmu.write(0x4000fcn, 8, 0x1122334455667788n); // overlaps the first 4 bytes
    expect(r.events.map((e) => [e.op, e.va, e.size])).toEqual([["write", 0x4000fcn, 8]]);
    expect(mmu.read(0x4000fcn, 8)).toBe(0x1122334455667788n); // the access itself happened
  });

  it("fetch hooks see instruction fetches only", () => {
    const { mmu } = setup();
    const r = recorder();
    mmu.addHook({ space: "linear", start: 0x402000n, length: 0x1000n, ops: ["fetch"], after: r.after });
    mmu.write(0x402010n, 1, 0xc3n);
    mmu.read(0x402010n, 1);
    expect(mmu.fetch(0x402010n)).toBe(0xc3);
    expect(r.events).toEqual([{ when: "after", op: "fetch", va: 0x402010n, pa: 0x22010n, size: 1, cpl: 0, value: 0xc3n }]);
  });

  it("a page-crossing access fires each hook ONCE with the whole range (linear and physical hooks)", () => {
    const { mmu } = setup();
    const lin = recorder();
    const phys = recorder();
    const second = recorder();
    mmu.addHook({ space: "linear", start: 0x400000n, length: 0x2000n, before: lin.before }); // both pages
    mmu.addHook({ space: "physical", start: 0x20ff0n, length: 0x20n, before: phys.before }); // both frames
    mmu.addHook({ space: "physical", start: 0x21000n, length: 0x1000n, before: second.before }); // the second frame only
    mmu.write(0x400ffcn, 8, 0x8877665544332211n, { cpl: 3 });
    const whole = { when: "before", op: "write", va: 0x400ffcn, pa: 0x20ffcn, size: 8, cpl: 3, value: 0x8877665544332211n };
    expect(lin.events).toEqual([whole]);
    expect(phys.events).toEqual([whole]);
    expect(second.events).toEqual([whole]);
    // the number fast paths and batches too
    lin.events.length = 0;
    expect(mmu.loadNumber(0x400ffe, encodeAccess({ op: "read", size: 4 }))).toBe(0x66554433);
    const b = mmu.batch(1);
    b.input[0] = 0x400ffan;
    b.load(1, { op: "read", size: 8 });
    expect(b.output[0]).toBe(0x6655443322110000n); // 0x20ffa..0x21001: 00 00 11 22 33 44 55 66
    expect(lin.events.map((e) => [e.va, e.size])).toEqual([[0x400ffen, 4], [0x400ffan, 8]]);
  });

  it("a physical hook fires for every alias of its frame", () => {
    const { mmu } = setup();
    const r = recorder();
    mmu.addHook({ space: "physical", start: 0x20000n, length: 0x1000n, before: r.before });
    mmu.write(0x400008n, 2, 0xabcdn);
    expect(mmu.read(0x500008n, 2)).toBe(0xabcdn);
    expect(r.events.map((e) => [e.op, e.va, e.pa])).toEqual([["write", 0x400008n, 0x20008n], ["read", 0x500008n, 0x20008n]]);
  });

  it("a before hook that throws aborts the access with nothing written (page-crossing too)", () => {
    const { mmu } = setup();
    mmu.write(0x400ffcn, 8, 0x0807060504030201n);
    const h = mmu.addHook({
      space: "linear", start: 0x401000n, length: 1n, ops: ["write"],
      before: () => {
        throw new Error("vetoed");
      },
    });
    expect(() => mmu.write(0x400ffcn, 8, 0xffffffffffffffffn)).toThrow("vetoed");
    expect(() => mmu.storeNumber(0x400ffe, encodeAccess({ op: "write", size: 4 }), 0xeeeeeeee)).toThrow("vetoed");
    expect(mmu.memory.read(0x20ffcn, 4)).toBe(0x04030201n);
    expect(mmu.memory.read(0x21000n, 4)).toBe(0x08070605n);
    h.remove();
    mmu.write(0x400ffcn, 8, 0n);
    expect(mmu.memory.read(0x21000n, 4)).toBe(0n);
  });

  it("a before hook that throws aborts writeBytes with nothing written", () => {
    const { mmu } = setup();
    mmu.addHook({
      space: "linear", start: 0x401000n, length: 1n, ops: ["write"],
      before: () => {
        throw new Error("vetoed");
      },
    });
    expect(() => mmu.writeBytes(0x400ff0n, new Uint8Array(32).fill(0xdd))).toThrow("vetoed");
    expect(mmu.memory.read(0x20ff0n, 8)).toBe(0n);
  });

  it("bulk copies over hooked pages report every byte once, in contiguous pieces", () => {
    const { mmu } = setup();
    const r = recorder();
    mmu.addHook({ space: "linear", start: 0x400000n, length: 0x3000n, ops: ["read"], before: r.before });
    mmu.readBytes(0x400ff0n, 0x1020);
    let at = 0x400ff0n;
    for (const e of r.events) {
      expect(e.va).toBe(at);
      at += BigInt(e.size);
    }
    expect(at).toBe(0x400ff0n + 0x1020n);
  });

  it("removing a hook restores the core's fast path; with a hook on another page the accessed page stays fast", () => {
    const { mmu } = setup();
    const x = mmu.coreInstance.x;
    const ld = encodeAccess({ op: "read", size: 4 });
    mmu.write(0x400000n, 4, 0x1234n);
    const r = recorder();
    const other = mmu.addHook({ space: "linear", start: 0x402000n, length: 0x10n, before: r.before });
    expect(x.loadLinear(0x400000, 0, ld)).toBe(0x1234); // served by the core
    const h = mmu.addHook({ space: "physical", start: 0x20000n, length: 4n, before: r.before });
    expect(x.loadLinear(0x400000, 0, ld)).toBeLessThan(0); // the host must perform it
    expect(mmu.loadNumber(0x400000, ld)).toBe(0x1234);
    expect(r.events.length).toBe(1);
    h.remove();
    other.remove();
    expect(x.loadLinear(0x400000, 0, ld)).toBe(0x1234);
    expect(mmu.loadNumber(0x400000, ld)).toBe(0x1234);
    mmu.read(0x402000n, 1);
    expect(r.events.length).toBe(1);
  });

  it("invalid hooks are ArgumentErrors and register nothing", () => {
    const mmu = new Mmu({ maxPhyAddr: 40 });
    const f = () => {};
    expect(() => mmu.addHook({ space: "linear", start: 0x1000n, length: 0n, before: f })).toThrow(ArgumentError);
    expect(() => mmu.addHook({ space: "linear", start: 0xfffffffffffff000n, length: 0x2000n, before: f })).toThrow(ArgumentError);
    expect(() => mmu.addHook({ space: "physical", start: (1n << 40n) - 8n, length: 16n, before: f })).toThrow(ArgumentError);
    expect(() => mmu.addHook({ space: "virtual" as "linear", start: 0n, length: 1n, before: f })).toThrow(ArgumentError);
    expect(() => mmu.addHook({ space: "linear", start: 0n, length: 1n, ops: ["exec" as "fetch"], before: f })).toThrow(ArgumentError);
    expect(() => mmu.addHook({ space: "linear", start: 0n, length: 1n })).toThrow(ArgumentError);
    // paging off: linear = physical; the fast path is untouched
    mmu.memory.write(0x1000n, 4, 7);
    expect(mmu.coreInstance.x.loadLinear(0x1000, 0, encodeAccess({ op: "read", size: 4 }))).toBe(7);
  });
});

describe("fault handlers", () => {
  /** A handler that maps a fresh frame (holding `fill`) at the faulting page, then asks for a retry. */
  function demandPager(mmu: Mmu, pt: ReturnType<typeof setup>["pt"], fill = 0x5an) {
    const seen: [Fault, FaultContext][] = [];
    mmu.onFault((fault, ctx) => {
      seen.push([fault, ctx]);
      if (!(fault instanceof PageFault) || fault.present) return;
      const page = fault.cr2 & ~0xfffn;
      const frame = mmu.memory.allocFrame();
      mmu.memory.write(frame, 8, fill);
      pt.map(page, frame, 0x1000n, { flags });
      return "retry";
    });
    return seen;
  }

  it("a handler that maps the page and returns retry completes the access (bigint API)", () => {
    const { mmu, pt } = setup();
    const seen = demandPager(mmu, pt, 0x1122334455667788n);
    expect(mmu.read(0x600000n, 8, { cpl: 3 })).toBe(0x1122334455667788n);
    expect(seen.length).toBe(1);
    const [fault, ctx] = seen[0]!;
    expect((fault as PageFault).errorCode).toBe(0x4); // not present, user read
    expect((fault as PageFault).cr2).toBe(0x600000n);
    expect(ctx).toEqual({ va: 0x600000n, op: "read", size: 8, cpl: 3 });
    mmu.write(0x610000n, 4, 0xabn);
    expect(mmu.read(0x610000n, 4)).toBe(0xabn);
    expect(seen.map(([f]) => (f as PageFault).errorCode)).toEqual([0x4, 0x2]);
    expect(mmu.translate(0x620000n)).toBe(mmu.translate(0x620000n)); // translate too
    expect(seen.length).toBe(3);
  });

  it("a page-crossing write over two missing pages: the handler maps each (cr2 of the second is its first byte), the retry writes both halves", () => {
    const { mmu, pt } = setup();
    const seen = demandPager(mmu, pt, 0n);
    mmu.write(0x404ffen, 4, 0xddccbbaan);
    expect(seen.map(([f, c]) => [(f as PageFault).cr2, c.va, c.size])).toEqual([[0x404ffen, 0x404ffen, 4], [0x405000n, 0x404ffen, 4]]);
    expect(mmu.read(0x404ffen, 4)).toBe(0xddccbbaan);
  });

  it("fixes up faults on the number fast paths (loadNumber, storeNumber, translateNumber) and readBytes", () => {
    const { mmu, pt } = setup();
    const seen = demandPager(mmu, pt, 0x77n);
    expect(mmu.loadNumber(0x700000, encodeAccess({ op: "read", size: 1 }))).toBe(0x77);
    expect(mmu.storeNumber(0x701000, encodeAccess({ op: "write", size: 2 }), 0x1234)).toBe(0);
    expect(mmu.read(0x701000n, 2)).toBe(0x1234n);
    expect(mmu.translateNumber(0x702abc, encodeAccess({ op: "read" }))).toBe(Number(mmu.translate(0x702000n)) + 0xabc);
    expect([...mmu.readBytes(0x703ffen, 4)]).toEqual([0, 0, 0x77, 0]);
    expect(seen.map(([f]) => (f as PageFault).cr2)).toEqual([0x700000n, 0x701000n, 0x702abcn, 0x703ffen, 0x704000n]);
  });

  it("a protection fault fixed by changing the rights (copy-on-write style)", () => {
    const { mmu, pt } = setup();
    const seen: number[] = [];
    mmu.onFault((f) => {
      if (!(f instanceof PageFault) || !f.present || !f.write) return;
      seen.push(f.errorCode);
      pt.protect(f.cr2 & ~0xfffn, 0x1000n, flags);
      return "retry";
    });
    mmu.write(0x403010n, 4, 9n, { cpl: 3 });
    expect(seen).toEqual([0x7]); // P|W|U
    expect(mmu.memory.read(0x23010n, 4)).toBe(9n);
  });

  it("without retry the fault is delivered; #GP reaches handlers too", () => {
    const { mmu } = setup();
    const seen: Fault[] = [];
    const h = mmu.onFault((f) => void seen.push(f));
    expect(() => mmu.read(0x404000n, 1)).toThrow(PageFault);
    expect(() => mmu.read(0x0000800000000000n, 1)).toThrow(GeneralProtection);
    expect(mmu.loadNumber(0x404000, encodeAccess({ op: "read" }))).toBe(-1);
    expect(seen.map((f) => f.constructor.name)).toEqual(["PageFault", "GeneralProtection", "PageFault"]);
    h.remove();
    expect(() => mmu.read(0x404000n, 1)).toThrow(PageFault);
    expect(seen.length).toBe(3);
    expect(() => mmu.onFault(42 as unknown as () => void)).toThrow(ArgumentError);
  });

  it("a handler that keeps asking for a retry without fixing anything is called MAX_FAULT_RETRIES times, then the fault is delivered", () => {
    const { mmu } = setup();
    let calls = 0;
    mmu.onFault(() => {
      calls++;
      return "retry";
    });
    expect(MAX_FAULT_RETRIES).toBe(8);
    expect(() => mmu.read(0x404000n, 1)).toThrow(PageFault);
    expect(calls).toBe(MAX_FAULT_RETRIES);
    calls = 0;
    expect(mmu.loadNumber(0x404000, encodeAccess({ op: "read" }))).toBe(-1);
    expect(calls).toBe(MAX_FAULT_RETRIES);
    calls = 0;
    expect(mmu.storeNumber(0x404000, encodeAccess({ op: "write" }), 1)).not.toBe(0);
    expect(calls).toBe(MAX_FAULT_RETRIES);
    expect(mmu.lastFault()).toBeInstanceOf(PageFault);
  });
});
