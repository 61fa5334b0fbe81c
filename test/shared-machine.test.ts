/**
 * SharedMachine (issue 15): CPUs that are separate instances of the core's
 * threads build over one shared WebAssembly.Memory. Here every CPU is
 * attached in this thread, so the order of events is fixed; the tests with
 * real workers are in workers.test.ts. Each expectation follows from the SDM
 * by hand: 4.10.2 (a TLB is per logical processor and caches what a walk
 * decided), 4.10.4 (INVLPG, INVPCID, global entries), 4.10.5 (another
 * processor's change to the paging structures is not seen by this one's TLB
 * until it invalidates: the shootdown), 4.8 (A and D live in memory, which
 * the processors share).
 */
import { describe, it, expect } from "vitest";
import { SharedMachine, attachCpu, attachedCpus, type SharedCpu, LONG_MODE, ArgumentError, X86MmuError, PageFault } from "../src/index.js";

// PML4 0x1000 [0] -> PDPT 0x2000 [0] -> PD 0x3000 [2] -> PT 0x4000.
// VA A = 0x400000 (PT [0]) -> 0x10000; VA B = 0x401000 (PT [1]) -> 0x11000.
const A = 0x400000n;
const B = 0x401000n;
const PTE_A = 0x4000n;
const PTE_B = 0x4008n;
const URW = 0x07n; // P RW US
const G = 0x100n;
const PGE = 1n << 7n;
const PCIDE = 1n << 17n;

function machine(cpus = 2, pausable = false) {
  const m = new SharedMachine({ cpus, pausable });
  const list = Array.from({ length: cpus }, (_, i) => m.attach(i));
  const w = (pa: bigint, v: bigint) => list[0]!.mmu.memory.write(pa, 8, v);
  w(0x1000n, 0x2000n | URW);
  w(0x2000n, 0x3000n | URW);
  w(0x3010n, 0x4000n | URW);
  w(PTE_A, 0x10000n | URW);
  w(PTE_B, 0x11000n | URW);
  for (const cpu of list) cpu.mmu.loadState({ ...LONG_MODE, cr3: 0x1000n });
  return { m, cpus: list, read: (pa: bigint) => list[0]!.mmu.memory.read(pa, 8), write: w };
}

describe("SharedMachine: CPUs over one shared memory", () => {
  it("keeps a stale translation on CPU 1 after CPU 0 changes a PTE, until CPU 1 takes the shootdown", () => {
    const { cpus: [c0, c1], write } = machine();
    expect(c0!.mmu.translate(A)).toBe(0x10000n);
    expect(c1!.mmu.translate(A)).toBe(0x10000n);
    write(PTE_A, 0x20000n | URW);
    c0!.mmu.invlpg(A);
    expect(c0!.mmu.translate(A)).toBe(0x20000n);
    expect(c1!.mmu.translate(A)).toBe(0x10000n); // CPU 1's own TLB entry (4.10.5)
    const ticket = c0!.shootdown([1], { kind: "invlpg", va: A });
    expect(ticket.done).toBe(false);
    expect(ticket.waiting).toEqual([1]);
    expect(c1!.pending).toEqual([{ kind: "invlpg", va: A }]);
    expect(c1!.mmu.translate(A)).toBe(0x20000n); // performed at its next call, then walked
    expect(ticket.done).toBe(true);
    expect(ticket.wait(0)).toBe(true);
    expect(c1!.pending).toEqual([]);
  });

  it("sees A and D set by another CPU's walk, in the one memory", () => {
    const { cpus: [c0, c1], read } = machine();
    c0!.mmu.translate(A, { op: "read" });
    expect(read(PTE_A) & 0x60n).toBe(0x20n); // A
    c1!.mmu.translate(A, { op: "write" });
    expect(read(PTE_A) & 0x60n).toBe(0x60n); // A and D
    expect(read(0x1000n) & 0x20n).toBe(0x20n); // the PML4E too
    // Data written through one CPU is read through the other.
    c1!.mmu.writeBytes(B, new Uint8Array([9, 8, 7]));
    expect([...c0!.mmu.readBytes(B, 3)]).toEqual([9, 8, 7]);
  });

  it("a shootdown to itself is performed at once; poll performs pending ones and counts them", () => {
    const { cpus: [c0, c1, c2], write } = machine(3);
    for (const c of [c0, c1, c2]) c!.mmu.translate(B);
    write(PTE_B, 0x31000n | URW);
    const t = c0!.shootdown([0, 1, 2], [{ kind: "invlpg", va: B }]);
    expect(t.targets).toEqual([1, 2]); // CPU 0 did its own INVLPG already
    expect(c0!.mmu.translate(B)).toBe(0x31000n);
    expect(c2!.poll()).toBe(1);
    expect(t.waiting).toEqual([1]);
    expect(c2!.poll()).toBe(0);
    expect(c1!.poll()).toBe(1);
    expect(t.done).toBe(true);
    expect(c1!.mmu.translate(B)).toBe(0x31000n);
  });

  it("INVPCID forms across CPUs: one context, all but globals, all with globals", () => {
    const { cpus: [c0, c1], write } = machine();
    // CPU 1: CR4.PCIDE=1 and PGE=1, PCID 1; A is global, B is not.
    write(PTE_A, 0x10000n | URW | G);
    c1!.mmu.loadState({ ...LONG_MODE, cr4: LONG_MODE.cr4 | PGE | PCIDE, cr3: 0x1000n | 1n });
    expect(c1!.mmu.translate(A)).toBe(0x10000n);
    expect(c1!.mmu.translate(B)).toBe(0x11000n);
    write(PTE_A, 0x20000n | URW | G);
    write(PTE_B, 0x21000n | URW);
    // Single context, PCID 2: none of CPU 1's entries (they are PCID 1's, and A is global).
    c0!.shootdown([1], { kind: "invpcid", type: 1, pcid: 2 });
    expect(c1!.mmu.translate(A)).toBe(0x10000n);
    expect(c1!.mmu.translate(B)).toBe(0x11000n);
    // All contexts but globals: B goes, A (global) stays.
    c0!.shootdown([1], { kind: "invpcid", type: 3 });
    expect(c1!.mmu.translate(B)).toBe(0x21000n);
    expect(c1!.mmu.translate(A)).toBe(0x10000n);
    // All contexts with globals: A goes too.
    c0!.shootdown([1], { kind: "invpcid", type: 2 });
    expect(c1!.mmu.translate(A)).toBe(0x20000n);
  });

  it("more than an inbox holds becomes a full flush", () => {
    const { cpus: [c0, c1], write } = machine();
    c1!.mmu.translate(A);
    c1!.mmu.translate(B);
    write(PTE_A, 0x20000n | URW);
    write(PTE_B, 0x21000n | URW);
    for (let k = 0; k < 33; k++) c0!.shootdown([1], { kind: "invlpg", va: 0x7000000n + BigInt(k) * 0x1000n });
    expect(c1!.pending).toEqual([{ kind: "flush" }]);
    expect(c1!.poll()).toBe(33);
    expect(c1!.mmu.tlbEntries()).toEqual([]);
    expect(c1!.mmu.translate(A)).toBe(0x20000n);
    expect(c1!.mmu.translate(B)).toBe(0x21000n);
  });

  it("hands out frames once across CPUs, and each CPU's faults are its own", () => {
    const { cpus: [c0, c1] } = machine();
    const seen = new Set<bigint>();
    for (let k = 0; k < 200; k++) {
      for (const c of [c0, c1]) {
        const f = c!.mmu.memory.allocFrame();
        expect(seen.has(f)).toBe(false);
        seen.add(f);
      }
    }
    // Page tables built on CPU 1 use frames CPU 0 never hands out.
    const pt = c1!.mmu.createPageTable();
    pt.map(0x800000n, 0x50000n, 0x1000n, { flags: { writable: true } });
    expect(seen.has(pt.root)).toBe(false);
    c0!.mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    expect(c0!.mmu.translate(0x800010n)).toBe(0x50010n);
    expect(() => c1!.mmu.translate(0x900000n)).toThrow(PageFault);
    expect(c0!.mmu.translate(0x800000n)).toBe(0x50000n); // CPU 1's fault left CPU 0 alone
  });

  it("a freed frame reads as zero and keeps its storage for CPUs that still cache it", () => {
    const { cpus: [c0, c1] } = machine();
    const f = c0!.mmu.memory.allocFrame();
    c0!.mmu.memory.write(f, 8, 0x1234n);
    c1!.mmu.memory.freeFrame(f);
    expect(c0!.mmu.memory.read(f, 8)).toBe(0n);
    expect(c0!.mmu.memory.allocFrame()).toBe(f); // reused first
  });

  it("refuses what needs every CPU paused or callbacks in one thread, with a typed error, changing nothing", () => {
    const { cpus: [c0] } = machine();
    const code = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(X86MmuError);
        return (e as X86MmuError).code;
      }
      return "no error";
    };
    const mmu = c0!.mmu;
    expect(code(() => mmu.mapDevice(0x100000n, 0x1000n, { read: () => 0, write: () => undefined }))).toBe("SHARED_MEMORY_UNSUPPORTED");
    expect(code(() => mmu.addHook({ start: 0x10000n, length: 0x1000n, on: "write", before: () => undefined }))).toBe("SHARED_MEMORY_UNSUPPORTED");
    expect(code(() => mmu.dirtyLog.start())).toBe("NOT_PAUSED"); // the dirty log changes only with the others paused
    expect(mmu.dirtyLog.running).toBe(false);
    expect(code(() => mmu.snapshot())).toBe("SHARED_MEMORY_UNSUPPORTED");
    expect(code(() => mmu.memory.reset())).toBe("SHARED_MEMORY_UNSUPPORTED");
    expect(mmu.translate(A)).toBe(0x10000n);
  });

  it("attaches a CPU in one place at a time; a detached CPU refuses calls and no longer holds shootdowns", () => {
    const { m, cpus: [c0, c1] } = machine();
    expect(m.attached).toEqual([0, 1]);
    expect(() => m.attach(1)).toThrow(expect.objectContaining({ code: "CPU_ATTACHED" }));
    c1!.mmu.translate(A);
    const t = c0!.shootdown([1], { kind: "flush" });
    expect(t.done).toBe(false);
    c1!.detach();
    expect(t.done).toBe(true);
    expect(() => c1!.mmu.translate(A)).toThrow(expect.objectContaining({ code: "CPU_DETACHED" }));
    expect(attachedCpus(m.handle)).toEqual([0]);
    // Attached again: a new instance with an empty TLB, over the same memory.
    const again = attachCpu(m.handle, 1, { state: { ...LONG_MODE, cr3: 0x1000n } });
    expect(again.mmu.tlbEntries()).toEqual([]);
    expect(again.mmu.translate(A)).toBe(0x10000n);
  });

  it("checks its arguments", () => {
    const { m, cpus: [c0] } = machine();
    expect(() => new SharedMachine({ cpus: 0 })).toThrow(ArgumentError);
    expect(() => new SharedMachine({ cpus: 65 })).toThrow(ArgumentError);
    expect(() => m.attach(2)).toThrow(ArgumentError);
    expect(() => attachCpu({} as never, 0)).toThrow(ArgumentError);
    expect(() => c0!.shootdown([1, 1], { kind: "flush" })).toThrow(ArgumentError);
    expect(() => c0!.shootdown([5], { kind: "flush" })).toThrow(ArgumentError);
    expect(() => c0!.shootdown([1], [])).toThrow(ArgumentError);
    expect(() => c0!.shootdown([1], { kind: "nope" } as never)).toThrow(ArgumentError);
    expect(m.attach.length).toBe(2);
  });

  it("answers hostile arguments with a typed error and changes nothing: no CPU attached, nothing posted", () => {
    const { m, cpus: [c0, c1] } = machine();
    const hostile: unknown[] = [undefined, null, Number.NaN, -1, 1.5, 2 ** 53, 1n << 64n, -1n, "", "1", true, Symbol("s"), () => 0, [], [1.5], {}, Object.create(null), new Uint8Array(2)];
    const typed = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(X86MmuError);
        return;
      }
    };
    c1!.mmu.translate(A);
    const spare = new SharedMachine({ cpus: 1 }); // a machine with a free CPU, for the attach options
    for (const v of hostile) {
      typed(() => new SharedMachine(v as never));
      typed(() => new SharedMachine({ cpus: v as never }));
      typed(() => attachCpu(v as never, 0));
      typed(() => attachCpu(m.handle, v as never));
      // Options a CPU accepts (undefined is the default) attach it; it is detached again.
      for (const options of [{ tlb: v }, { tlb: { entries: v, ways: 1 } }, { state: { cr3: v } }, { state: { cr0: v } }]) {
        typed(() => attachCpu(spare.handle, 0, options as never).detach());
        expect(spare.attached).toEqual([]);
      }
      typed(() => c0!.shootdown(v as never, { kind: "flush" }));
      typed(() => c0!.shootdown([1], v as never));
      typed(() => c0!.shootdown([1], [{ kind: "invlpg", va: v } as never]));
      typed(() => c0!.shootdown([1], [{ kind: "invpcid", type: v } as never]));
      typed(() => c0!.shootdown([v as never], { kind: "flush" }));
    }
    // Nothing was attached (CPU 0 and 1 are attached; index 0 still belongs to c0) and nothing was posted.
    expect(m.attached).toEqual([0, 1]);
    expect(c1!.pending).toEqual([]);
    expect(c1!.mmu.tlbEntries().length).toBe(1);
    expect(c0!.mmu.translate(A)).toBe(0x10000n);
  });

  it("a refused attach leaves the CPU free to attach", () => {
    const m = new SharedMachine({ cpus: 2 });
    expect(() => m.attach(1, { tlb: { entries: 3, ways: 1 } })).toThrow(ArgumentError);
    expect(() => m.attach(1, { state: { cr0: 1n << 80n } as never })).toThrow(X86MmuError);
    expect(m.attached).toEqual([]);
    expect(m.attach(1).index).toBe(1);
    expect(m.attached).toEqual([1]);
  });

  it("pauses the other CPUs for a snapshot of memory, restores it, and flushes every TLB", () => {
    const { cpus: [c0, c1], write: w } = machine(2, true) as { cpus: SharedCpu[]; write: (pa: bigint, v: bigint) => void };
    w(0x10008n, 0xaaaan);
    expect(c1.mmu.translate(A)).toBe(0x10000n);
    expect(() => c0.snapshot()).toThrow(expect.objectContaining({ code: "NOT_PAUSED" }));
    c0.pauseOthers();
    expect(c0.pausing).toBe(true);
    // CPU 1 runs in this thread: waiting for the resume would never end, so it says so.
    expect(() => c1.mmu.translate(A)).toThrow(expect.objectContaining({ code: "CPU_PAUSED" }));
    expect(() => c1.pauseOthers()).toThrow(expect.objectContaining({ code: "MACHINE_PAUSED" }));
    const snap = c0.snapshot();
    expect(snap.frames.get(0x10000n)![8]).toBe(0xaa);
    // After the snapshot: the PTE remapped, the data changed, a new frame written.
    w(PTE_A, 0x20000n | URW);
    w(0x10008n, 0xbbbbn);
    w(0x50000n, 0x5555n);
    const f = c0.mmu.memory.allocFrame();
    c0.restore(snap);
    expect(c0.mmu.memory.read(PTE_A, 8) & ~0x60n).toBe(0x10000n | URW);
    expect(c0.mmu.memory.read(0x10008n, 8)).toBe(0xaaaan);
    expect(c0.mmu.memory.read(0x50000n, 8)).toBe(0n); // not in the snapshot: zero again
    // The allocator is back where it was; f, written since, reads as zero but keeps its storage
    // (nothing is released with several CPUs), so the allocator steps over it.
    expect(c0.mmu.memory.read(f, 8)).toBe(0n);
    expect(c0.mmu.memory.allocFrame()).toBe(f + 0x1000n);
    expect(c1.pending).toEqual([{ kind: "flush" }]); // the others flush when they run again
    c0.resumeOthers();
    expect(c0.pausing).toBe(false);
    expect(c1.mmu.translate(A)).toBe(0x10000n);
    expect(c1.mmu.tlbEntries().length).toBe(1);
    expect(() => c1.restore({ ...snap, control: new SharedArrayBuffer(8) })).toThrow(X86MmuError);
  });

  it("a machine made without pausable refuses to pause", () => {
    const { cpus: [c0] } = machine();
    expect(() => c0!.pauseOthers()).toThrow(expect.objectContaining({ code: "NOT_PAUSABLE" }));
    expect(() => c0!.snapshot()).toThrow(expect.objectContaining({ code: "NOT_PAUSED" }));
    expect(() => new SharedMachine({ cpus: 1, pausable: "yes" as never })).toThrow(ArgumentError);
  });

  it("keeps one dirty log for the machine: started with the others paused, every CPU's writes land in it", () => {
    const { m, cpus: [c0, c1] } = machine(2, true) as { m: SharedMachine; cpus: SharedCpu[] };
    // CPU 1 writes A before the log starts: its TLB then holds a write pointer for A's frame.
    c1.mmu.write(A, 8, 1n);
    expect(() => c0.mmu.dirtyLog.clear()).toThrow(expect.objectContaining({ code: "NOT_PAUSED" }));
    c0.pauseOthers();
    c0.mmu.dirtyLog.start();
    c0.resumeOthers();
    expect(c1.mmu.dirtyLog.running).toBe(true); // the machine's log, seen from any CPU
    // CPU 1's write through its old TLB entry is noted all the same (the resume made it forget its write pointers).
    c1.mmu.write(A, 8, 2n);
    // CPU 0's first write to B walks and sets A and D in PTE B: the page table's frame is written too.
    c0.mmu.write(B, 8, 3n);
    expect(c0.mmu.dirtyLog.frames()).toEqual([0x4000n, 0x10000n, 0x11000n]);
    expect(c1.mmu.dirtyLog.frames()).toEqual([0x4000n, 0x10000n, 0x11000n]);
    // Clearing, with the others paused: only writes after it are listed.
    c0.pauseOthers();
    c0.mmu.dirtyLog.clear();
    c0.resumeOthers();
    c1.mmu.write(A, 8, 4n);
    expect(c0.mmu.dirtyLog.frames()).toEqual([0x10000n]);
    c0.pauseOthers();
    c0.mmu.dirtyLog.stop();
    c0.resumeOthers();
    c1.mmu.write(B, 8, 5n);
    expect(c1.mmu.dirtyLog.running).toBe(false);
    expect(c0.mmu.dirtyLog.frames()).toEqual([]);
    // A CPU attached while the log runs notes its writes from the start.
    c0.pauseOthers();
    c0.mmu.dirtyLog.start();
    c0.resumeOthers();
    c1.detach();
    const again = m.attach(1, { state: { ...LONG_MODE, cr3: 0x1000n } });
    again.mmu.write(B, 8, 6n);
    expect(c0.mmu.dirtyLog.frames()).toEqual([0x11000n]);
  });
});

