/**
 * A machine of several CPUs (src/machine, issue 15), worker-free mode. Each
 * expectation follows from the SDM by hand: 4.10.2 (a TLB caches what a walk
 * decided; per logical processor), 4.10.4 (INVLPG, INVPCID, MOV to CR3 and
 * the global bit), 4.10.5 (a change to the paging structures made by one
 * processor is not seen by another's TLB until that one invalidates: the
 * shootdown), 4.8 (A and D are set in memory, which all processors share).
 */
import { describe, it, expect } from "vitest";
import { Machine, LONG_MODE, ArgumentError, PageFault, encodeAccess } from "../src/index.js";

// PML4 0x1000 [0] -> PDPT 0x2000 [0] -> PD 0x3000 [2] -> PT 0x4000.
// VA A = 0x400000 (PT [0]) -> 0x10000; VA B = 0x401000 (PT [1]) -> 0x11000.
const A = 0x400000n;
const B = 0x401000n;
const PTE_A = 0x4000n;
const PTE_B = 0x4008n;
const URW = 0x07n; // P RW US

function machine(cpus = 2): Machine {
  const m = new Machine({ cpus });
  const w = (pa: bigint, v: bigint) => m.memory.write(pa, 8, v);
  w(0x1000n, 0x2000n | URW);
  w(0x2000n, 0x3000n | URW);
  w(0x3010n, 0x4000n | URW);
  w(PTE_A, 0x10000n | URW);
  w(PTE_B, 0x11000n | URW);
  for (const cpu of m.cpus) cpu.mmu.loadState({ ...LONG_MODE, cr3: 0x1000n });
  return m;
}

describe("a machine of several CPUs", () => {
  it("keeps a stale translation on CPU 1 after CPU 0 changes a PTE, until CPU 1 performs the shootdown", () => {
    const m = machine();
    const [c0, c1] = [m.cpu(0), m.cpu(1)];
    expect(c0.mmu.translate(A)).toBe(0x10000n);
    expect(c1.mmu.translate(A)).toBe(0x10000n); // both TLBs hold A
    // CPU 0 remaps A and invalidates its own TLB (INVLPG), as an OS does first.
    m.memory.write(PTE_A, 8, 0x20000n | URW);
    c0.mmu.invlpg(A);
    expect(c0.mmu.translate(A)).toBe(0x20000n);
    expect(c1.mmu.translate(A)).toBe(0x10000n); // 4.10.5: CPU 1 still uses its entry
    // The shootdown: posted, not performed until CPU 1's next operation.
    const ticket = m.shootdown([1], { kind: "invlpg", va: A });
    expect(ticket.done).toBe(false);
    expect(ticket.waiting).toEqual([1]);
    expect(c1.pending).toEqual([{ kind: "invlpg", va: A }]);
    expect(c0.mmu.translate(A)).toBe(0x20000n); // the initiator running does not perform it
    expect(ticket.done).toBe(false);
    expect(c1.mmu.translate(A)).toBe(0x20000n); // taken at CPU 1's next operation, then the walk
    expect(ticket.done).toBe(true);
    expect(c1.pending).toEqual([]);
  });

  it("INVLPG on one CPU leaves the other CPUs' entries; poll and pollAll perform pending invalidations", () => {
    const m = machine(3);
    for (const c of m.cpus) c.mmu.translate(B);
    m.memory.write(PTE_B, 8, 0x31000n | URW);
    m.cpu(2).mmu.invlpg(B);
    expect(m.cpu(0).mmu.translate(B)).toBe(0x11000n);
    expect(m.cpu(1).mmu.translate(B)).toBe(0x11000n);
    expect(m.cpu(2).mmu.translate(B)).toBe(0x31000n);
    const t1 = m.shootdown([0], { kind: "invlpg", va: B });
    const t2 = m.shootdown([1], [{ kind: "invpcid", type: 0, pcid: 0, va: B }]);
    expect(m.cpu(0).poll()).toBe(1);
    expect(t1.done).toBe(true);
    m.cpu(2).mmu.translate(B); // CPU 2 running performs nothing of CPU 1's
    expect(t2.waiting).toEqual([1]);
    expect(m.pollAll()).toBe(1);
    expect(t2.done).toBe(true);
    expect(m.current).toBe(2); // pollAll returns to the CPU that was current
    expect(m.cpu(0).mmu.translate(B)).toBe(0x31000n);
    expect(m.cpu(1).mmu.translate(B)).toBe(0x31000n);
  });

  it("gives each CPU its own registers: CR3, and a global page that survives CPU 1's MOV to CR3 until INVPCID type 2", () => {
    const m = machine();
    // A second tree at 0x5000 maps A to 0x50000; A's first mapping is global (G, bit 8), with CR4.PGE.
    m.memory.write(0x5000n, 8, 0x6000n | URW);
    m.memory.write(0x6000n, 8, 0x7000n | URW);
    m.memory.write(0x7010n, 8, 0x8000n | URW);
    m.memory.write(0x8000n, 8, 0x50000n | URW);
    m.memory.write(PTE_A, 8, 0x10000n | URW | 0x100n);
    for (const c of m.cpus) c.mmu.cr4 = c.mmu.cr4 | (1n << 7n);
    expect(m.cpu(0).mmu.translate(A)).toBe(0x10000n);
    expect(m.cpu(1).mmu.translate(A)).toBe(0x10000n);
    m.cpu(1).mmu.cr3 = 0x5000n; // MOV to CR3 keeps global entries (4.10.4.1)
    expect(m.cpu(1).mmu.cr3).toBe(0x5000n);
    expect(m.cpu(0).mmu.cr3).toBe(0x1000n);
    expect(m.cpu(1).mmu.translate(A)).toBe(0x10000n); // the global entry, not the new tree's 0x50000
    expect(() => m.cpu(1).mmu.translate(B)).toThrow(PageFault);
    m.shootdown([1], { kind: "invpcid", type: 2 });
    expect(m.cpu(1).mmu.translate(A)).toBe(0x50000n);
    expect(m.cpu(0).mmu.translate(A)).toBe(0x10000n);
  });

  it("sets A and D in the shared memory: one CPU's write is seen by the other's reads of the tables", () => {
    const m = machine();
    m.cpu(1).mmu.write(A, 8, 0x1122n, { cpl: 3 });
    expect(m.memory.read(PTE_A, 8) & 0x60n).toBe(0x60n); // A (bit 5) and D (bit 6)
    expect(m.cpu(0).mmu.read(A, 8)).toBe(0x1122n); // same memory
  });

  it("peek looks at a CPU's TLB without taking its pending invalidations", () => {
    const m = machine();
    m.cpu(1).mmu.translate(A);
    m.memory.write(PTE_A, 8, 0x20000n | URW);
    const ticket = m.shootdown([1], { kind: "invlpg", va: A });
    m.cpu(0).mmu.translate(B);
    expect(m.cpu(1).peek((mmu) => mmu.tlbEntries().map((e) => [e.linear, e.frame]))).toEqual([[A, 0x10000n]]);
    expect(ticket.done).toBe(false);
    expect(m.cpu(1).mmu.translate(A)).toBe(0x20000n);
    expect(ticket.done).toBe(true);
  });

  it("keeps each CPU's last fault", () => {
    const m = machine();
    expect(() => m.cpu(0).mmu.translate(0x800000n)).toThrow(PageFault);
    m.cpu(1).mmu.translate(A);
    const f = m.cpu(0).mmu.lastFault() as PageFault;
    expect(f).toBeInstanceOf(PageFault);
    expect(f.cr2).toBe(0x800000n);
  });

  it("runs a Batch or a page table on the CPU it came from", () => {
    const m = machine();
    const batch = m.cpu(1).mmu.batch(2);
    m.cpu(1).mmu.translate(A);
    m.memory.write(PTE_A, 8, 0x20000n | URW); // no invalidation anywhere
    m.cpu(0).mmu.translate(B); // CPU 0 current
    batch.input.set([A, B]);
    expect(batch.translate(2, encodeAccess({ op: "read" }))).toBe(0);
    expect(batch.output[0]).toBe(0x10000n); // CPU 1's stale entry: the batch ran on CPU 1
    expect(m.current).toBe(1);
    // A page-table change invalidates the TLB of the CPU it was made through (as INVLPG would), no other.
    // CPU 1 writes A: its read-only-so-far entry (D was clear) cannot serve a write, so it walks again and sets D.
    expect(m.cpu(1).mmu.translate(A, { op: "write", cpl: 3 })).toBe(0x20000n);
    const pt = m.cpu(0).mmu.activePageTable();
    pt.protect(A, 0x1000n, { writable: false, user: true });
    expect(m.cpu(1).mmu.translate(A, { op: "write", cpl: 3 })).toBe(0x20000n); // CPU 1 still has its writable entry
    expect(() => m.cpu(0).mmu.translate(A, { op: "write", cpl: 3 })).toThrow(PageFault);
  });

  it("drops saved TLBs on a machine-wide change (a device mapped), and keeps translations but not storage pointers when storage is released", () => {
    const m = machine();
    m.cpu(1).mmu.translate(A);
    m.memory.write(PTE_A, 8, 0x20000n | URW);
    m.cpu(0).mmu.mapDevice(0xfee00000n, 0x1000n, { read: () => 0n, write: () => {} });
    expect(m.cpu(1).mmu.translate(A)).toBe(0x20000n); // the processor may always invalidate more

    // Above the low window, a freed frame's storage is reused for the next frame written.
    const m2 = machine();
    m2.memory.write(PTE_A, 8, 0x40000000n | URW);
    m2.memory.write(0x40000000n, 8, 0xaaaan);
    expect(m2.cpu(1).mmu.read(A, 8)).toBe(0xaaaan); // CPU 1 caches A with its storage
    m2.cpu(0).mmu.translate(B);
    m2.memory.freeFrame(0x40000000n); // reads as zero now
    m2.memory.write(0x40001000n, 8, 0xbbbbn); // may take the freed storage
    expect(m2.cpu(1).mmu.translate(A)).toBe(0x40000000n); // the translation is kept
    expect(m2.cpu(1).mmu.read(A, 8)).toBe(0n); // through the frame's storage as it is now
  });

  it("snapshots and restores every CPU's registers; restore empties the TLBs and completes pending shootdowns", () => {
    const m = machine();
    const s = m.snapshot();
    m.cpu(1).mmu.cr3 = 0x9000n;
    m.cpu(0).mmu.translate(A);
    m.memory.write(PTE_A, 8, 0x20000n | URW);
    const ticket = m.shootdown([0, 1], { kind: "flush" });
    m.restore(s);
    expect(ticket.done).toBe(true);
    expect(m.cpu(1).mmu.cr3).toBe(0x1000n);
    expect(m.memory.read(PTE_A, 8)).toBe(0x10000n | URW);
    expect(m.cpu(0).mmu.translate(A)).toBe(0x10000n);
    expect(s.valid).toBe(true);
  });

  it("gives every CPU a TLB of the geometry asked for", () => {
    const m = new Machine({ cpus: 2, tlb: { entries: 32, ways: 2 } });
    for (const c of m.cpus) expect(c.mmu.tlbGeometry).toEqual({ entries: 32, ways: 2, sets: 16 });
    expect(() => new Machine({ cpus: 2, tlb: { entries: 32, ways: 3 } })).toThrow(ArgumentError);
  });

  it("refuses bad arguments with a typed error and posts nothing", () => {
    for (const cpus of [0, 257, 1.5, "2", undefined]) expect(() => new Machine({ cpus: cpus as number })).toThrow(ArgumentError);
    expect(() => new Machine(null as never)).toThrow(ArgumentError);
    const m = machine();
    expect(() => m.cpu(2)).toThrow(ArgumentError);
    expect(() => m.shootdown([0, 0], { kind: "flush" })).toThrow(ArgumentError);
    expect(() => m.shootdown([2], { kind: "flush" })).toThrow(ArgumentError);
    expect(() => m.shootdown([1], [{ kind: "flush" }, { kind: "invpcid", type: 4 as 0 }])).toThrow(ArgumentError);
    expect(() => m.shootdown([1], { kind: "invlpg", va: -1n })).toThrow(ArgumentError);
    expect(() => m.shootdown([1], { kind: "nope" } as never)).toThrow(ArgumentError);
    expect(() => m.shootdown([1], [])).toThrow(ArgumentError);
    expect(m.cpu(0).pending).toEqual([]);
    expect(m.cpu(1).pending).toEqual([]);
  });
});

describe("examples/two-cpus.mjs", () => {
  it("prints the README's output", async () => {
    const { spawnSync } = await import("node:child_process");
    const { fileURLToPath } = await import("node:url");
    const p = spawnSync(process.execPath, [fileURLToPath(new URL("../examples/two-cpus.mjs", import.meta.url))], { encoding: "utf8" });
    expect(p.stderr).toBe("");
    expect(p.stdout.trim().split("\n")).toEqual([
      "both CPUs: 0x400000 -> 0x10000, 0x10000",
      "CPU 0 remapped it: CPU 0 -> 0x20000, CPU 1 -> 0x10000 (stale)",
      "shootdown posted: done false, waiting for CPU 1",
      "CPU 1's next access performs it: 0x20000, done true",
    ]);
  });
});
