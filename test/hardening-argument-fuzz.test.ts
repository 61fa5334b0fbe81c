/**
 * Issue 13, "Also": an argument fuzz over every public method of the public
 * API and every argument slot. Each call either succeeds or throws an
 * X86MmuError subclass (never a raw TypeError, RangeError, RuntimeError or
 * SyntaxError), and a refused call leaves the state as it was: a digest of
 * memory (frames and contents), the tables' page map, the TLB, the dirty
 * log, hooks, devices, fault handlers, registers, snapshots and the owner
 * lists is compared before and after.
 *
 * One documented exception: a guest fault (PageFault, GeneralProtection,
 * NestedPageFault) keeps the accessed flags its walk set, as hardware does
 * (src/base/errors.ts), so after a fault memory and the dirty log are not
 * compared; everything else is.
 *
 * Two parts: every slot of every method with every hostile value (the other
 * slots good), options objects with each field made hostile; then random
 * mixes (fast-check, seed X86MMU_ARGFUZZ_SEED, default 13; printed on failure).
 */
import fc from "fast-check";
import { appendFileSync } from "node:fs";
import { describe, it, expect } from "vitest";
import {
  Mmu, LONG_MODE, X86MmuError, PageFault, GeneralProtection, NestedPageFault, encodeAccess, withSize, pteBits, parseScenario, parseScenarioText,
  VmSpace, VmSpaceOwner, MemView, InfallibleVmReader, InfallibleVmWriter, pageMap, reverseLookup, decodeBatchFault, toU64, hex,
  type PageTable, type LegacyPageTable, type VmReader, type VmWriter, type Batch, type Snapshot, type SavedRegisters, type VmIoOwner,
} from "../src/index.js";

const seed = Number(process.env.X86MMU_ARGFUZZ_SEED ?? "") || 13;

function hostileFn(): undefined {
  return undefined;
}

/** Values no argument slot expects. */
const HOSTILE: unknown[] = [
  undefined, null, Number.NaN, -1, 1.5, 2 ** 53, Number.POSITIVE_INFINITY, -0,
  1n << 64n, 1n << 200n, -1n, -(1n << 70n), 0x0000_8000_0000_0000n, 0xffff_7fff_ffff_f000n,
  "", "0x1000", "read", "abc", true, Symbol("hostile"), hostileFn, [], [1, 2], [0x1000n],
  {}, Object.create(null), { valueOf: () => 4 }, { length: -1 }, new Uint8Array(3), new BigUint64Array(2), new Date(0),
];

/** Values an option field does not expect (fewer, as there are many fields). */
const HOSTILE_FIELD: unknown[] = [null, Number.NaN, -1, 1.5, 1n << 64n, "toString", Symbol("f"), Object.create(null)];

const DEV = 0xfee00000n;
const USER = 0x10000n; // the space's user pages: 4 of them, one writer, one reader
const RAW_VA = 0x400000n; // the raw table's pages

interface Fixture {
  mmu: Mmu;
  space: VmSpace;
  owner: VmSpaceOwner;
  raw: PageTable;
  legacy: LegacyPageTable;
  batch: Batch;
  snap: Snapshot<SavedRegisters>;
  reader: VmReader;
  writer: VmWriter;
  readerTok: VmIoOwner;
  writerTok: VmIoOwner;
  view: MemView;
  hostReader: InfallibleVmReader;
  hostWriter: InfallibleVmWriter;
}

function fixture(): Fixture {
  const mmu = new Mmu();
  const space = VmSpace.create(mmu);
  space.activate();
  space.mapFresh(USER, 0x4000n);
  space.mapFresh(USER + 0x8000n, 0x1000n);
  const raw = mmu.createPageTable();
  raw.map(RAW_VA, 0x200000n, 0x2000n, { flags: { writable: true } });
  raw.map(RAW_VA + 0x2000n, DEV, 0x1000n, { flags: { writable: true } });
  const legacy = mmu.createPageTable({ mode: "pae" });
  legacy.map(0x1000n, 0x300000n, 0x1000n, { flags: { writable: true } });
  mmu.mapDevice(DEV, 0x1000n, { read: () => 0x5an, write: () => {} });
  mmu.addHook({ space: "linear", start: USER + 0x3000n, length: 0x1000n, ops: ["write"], before: () => {} });
  mmu.dirtyLog.start();
  mmu.memory.write(0x200000n, 8, 0x1122334455667788n);
  const snap = mmu.snapshot();
  mmu.write(USER, 8, 0xabcdn, { cpl: 3 });
  const writer = space.writer(USER + 0x1000n, 0x1000n);
  const reader = space.reader(USER + 0x2000n, 0x800n);
  const readerTok = space.owner.createReader({ start: USER + 0x2800n, end: USER + 0x2900n });
  const writerTok = space.owner.createWriter({ start: USER + 0x3000n, end: USER + 0x3100n });
  const view = MemView.of([{ start: 0x1000n, end: 0x3000n, pa: 0x200000n, pageSize: 0x1000n, flags: 7n }]);
  mmu.translate(USER, { op: "read", cpl: 3 }); // a TLB entry
  return {
    mmu, space, owner: space.owner, raw, legacy, batch: mmu.batch(4), snap, reader, writer, readerTok, writerTok, view,
    hostReader: InfallibleVmReader.from(new Uint8Array(64).fill(3)), hostWriter: InfallibleVmWriter.from(new Uint8Array(64)),
  };
}

function fnv(bytes: Uint8Array, h: number): number {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 16777619) >>> 0;
  return h;
}

const big = (_k: string, v: unknown) => (typeof v === "bigint" ? hex(v) : v);

/** Everything a refused call must leave as it was; `guest` is the part a guest fault may change (A flags). */
function digest(f: Fixture): { guest: string; rest: string } {
  const { mmu, owner } = f;
  const frames = mmu.memory.frames();
  let h = 2166136261;
  const raw = (mmu.coreInstance as unknown as { x: { memory: WebAssembly.Memory } }).x.memory;
  void raw;
  for (const pa of frames) h = fnv(mmu.memory.readBytes(pa, 0x1000), h);
  const guest = JSON.stringify({ frames: frames.length, h, dirty: mmu.dirtyLog.frames(), pm: pageMap(mmu).ranges, raw: pageMap(mmu, { root: f.raw.root }).ranges }, big);
  const internals = mmu as unknown as { bus: { hooks: unknown[]; devices: unknown[] }; faultHandlers: { any: boolean } };
  const toks = [...owner.readers, ...owner.writers].map((t) => `${t}:${t.memView?.kind ?? "none"}:${t.memView?.view.toString() ?? ""}`);
  const rest = JSON.stringify(
    {
      framesInUse: mmu.memory.framesInUse,
      tlb: mmu.tlbEntries(),
      regs: mmu.state,
      nested: mmu.nested,
      pdptes: mmu.pdptes,
      dirtyOn: mmu.dirtyLog.running,
      hooks: internals.bus.hooks.length,
      devices: internals.bus.devices.length,
      handlers: internals.faultHandlers.any,
      snap: [f.snap.valid, f.snap.frames],
      toks,
      mv: owner.memView?.toString(),
      total: owner.mvRange?.toString(),
      active: owner.active,
      inv: owner.inv(),
      cursors: [f.reader.cursor, f.reader.remain, f.writer.cursor, f.writer.avail, f.hostReader.remain, f.hostWriter.avail],
      view: f.view.toString(),
    },
    big,
  );
  return { guest, rest };
}

type Call = [name: string, good: unknown[], call: (f: Fixture, a: unknown[]) => unknown];

const R = { op: "read" };
const W = { op: "write", size: 4 };
const A = (spec: object): number => encodeAccess(spec as never);
const device = { read: () => 0n, write: () => {} };
const SCENARIO = { name: "s", cpu: { cr0: "0x10033", cr3: "0x0", cr4: "0x0", efer: "0x0" }, memory: [], accesses: [{ va: "0x10", op: "read", size: 1, cpl: 0 }] };

/** Every public method, with arguments that succeed (or at least are well-typed). */
const CALLS: Call[] = [
  // Mmu: registers
  ["new Mmu", [{ maxPhyAddr: 40 }], (_f, a) => new Mmu(a[0] as never)],
  ["loadState", [{ ...LONG_MODE, cr3: 0n }], (f, a) => f.mmu.loadState(a[0] as never)],
  ["set cr0", [0x80010033n], (f, a) => void (f.mmu.cr0 = a[0] as never)],
  ["set cr3", [0x1000n], (f, a) => void (f.mmu.cr3 = a[0] as never)],
  ["set cr4", [0x20n], (f, a) => void (f.mmu.cr4 = a[0] as never)],
  ["set efer", [0xd00n], (f, a) => void (f.mmu.efer = a[0] as never)],
  ["set pkru", [4], (f, a) => void (f.mmu.pkru = a[0] as never)],
  ["set pkrs", [4], (f, a) => void (f.mmu.pkrs = a[0] as never)],
  ["set maxPhyAddr", [48], (f, a) => void (f.mmu.maxPhyAddr = a[0] as never)],
  ["reloadPdptes", [], (f) => f.mmu.reloadPdptes()],
  ["invlpg", [USER], (f, a) => f.mmu.invlpg(a[0] as never)],
  ["invpcid", [0, 0, USER], (f, a) => f.mmu.invpcid(a[0] as never, a[1] as never, a[2] as never)],
  ["enterGuest", [{ ncr3: 0x1000n, nxe: true, asid: 1 }, 0], (f, a) => f.mmu.enterGuest(a[0] as never, a[1] as never)],
  ["invlpga", [USER, 1], (f, a) => f.mmu.invlpga(a[0] as never, a[1] as never)],
  ["flushTlb", [], (f) => f.mmu.flushTlb()],
  ["setTrace", [false], (f, a) => f.mmu.setTrace(a[0] as never)],
  // Mmu: translation and access
  ["translate", [USER, { op: "read", cpl: 3 }], (f, a) => f.mmu.translate(a[0] as never, a[1] as never)],
  ["tryTranslate", [USER, R], (f, a) => f.mmu.tryTranslate(a[0] as never, a[1] as never)],
  ["translateNumber", [0x10000, A(R)], (f, a) => f.mmu.translateNumber(a[0] as never, a[1] as never)],
  ["probe", [USER, R], (f, a) => f.mmu.probe(a[0] as never, a[1] as never)],
  ["translateBatch", [BigUint64Array.of(USER, RAW_VA), R], (f, a) => f.mmu.translateBatch(a[0] as never, a[1] as never)],
  ["batch", [4], (f, a) => f.mmu.batch(a[0] as never)],
  ["read", [USER, 4, { cpl: 3 }], (f, a) => f.mmu.read(a[0] as never, a[1] as never, a[2] as never)],
  ["write", [USER + 0x10n, 4, 7, { cpl: 3 }], (f, a) => f.mmu.write(a[0] as never, a[1] as never, a[2] as never, a[3] as never)],
  ["fetch", [USER, { cpl: 3 }], (f, a) => f.mmu.fetch(a[0] as never, a[1] as never)],
  ["loadNumber", [0x10000, A({ op: "read", size: 4 })], (f, a) => f.mmu.loadNumber(a[0] as never, a[1] as never)],
  ["storeNumber", [0x10010, A(W), 9], (f, a) => f.mmu.storeNumber(a[0] as never, a[1] as never, a[2] as never)],
  ["readBytes", [USER, 16, { cpl: 3 }], (f, a) => f.mmu.readBytes(a[0] as never, a[1] as never, a[2] as never)],
  ["readInto", [USER, new Uint8Array(16), { cpl: 3 }], (f, a) => f.mmu.readInto(a[0] as never, a[1] as never, a[2] as never)],
  ["writeBytes", [USER + 0x20n, Uint8Array.of(1, 2, 3), { cpl: 3 }], (f, a) => f.mmu.writeBytes(a[0] as never, a[1] as never, a[2] as never)],
  ["writeFrom", [USER + 0x20n, Uint8Array.of(1, 2, 3), { cpl: 3 }], (f, a) => f.mmu.writeFrom(a[0] as never, a[1] as never, a[2] as never)],
  // Mmu: devices, hooks, faults, snapshots, tables
  ["mapDevice", [0xfed00000n, 0x1000n, device], (f, a) => f.mmu.mapDevice(a[0] as never, a[1] as never, a[2] as never)],
  ["setPhysicalLayout", [{ ram: [{ start: 0n, length: 0x100000000n }] }], (f, a) => f.mmu.setPhysicalLayout(a[0] as never)],
  ["addHook", [{ space: "physical", start: 0x500000n, length: 0x1000n, ops: ["read"], after: () => {} }], (f, a) => f.mmu.addHook(a[0] as never)],
  ["onFault", [() => undefined], (f, a) => f.mmu.onFault(a[0] as never)],
  ["restore", ["snap"], (f, a) => f.mmu.restore((a[0] === "snap" ? f.snap : a[0]) as never)],
  ["createPageTable", [{ levels: 4 }], (f, a) => f.mmu.createPageTable(a[0] as never)],
  // Batch
  ["Batch.translate", [1, R], (f, a) => (f.batch.input.set([USER]), f.batch.translate(a[0] as never, a[1] as never))],
  ["Batch.load", [1, { op: "read", size: 4, cpl: 3 }], (f, a) => (f.batch.input.set([USER]), f.batch.load(a[0] as never, a[1] as never))],
  ["Batch.store", [1, { op: "write", size: 4, cpl: 3 }], (f, a) => (f.batch.input.set([USER + 0x30n]), f.batch.values.set([5n]), f.batch.store(a[0] as never, a[1] as never))],
  ["decodeBatchFault", [1n << 63n, USER], (_f, a) => decodeBatchFault(a[0] as never, a[1] as never)],
  // PhysicalMemory
  ["memory.readBytes", [0x200000n, 16], (f, a) => f.mmu.memory.readBytes(a[0] as never, a[1] as never)],
  ["memory.writeBytes", [0x200100n, Uint8Array.of(1, 2)], (f, a) => f.mmu.memory.writeBytes(a[0] as never, a[1] as never)],
  ["memory.read", [0x200000n, 4], (f, a) => f.mmu.memory.read(a[0] as never, a[1] as never)],
  ["memory.write", [0x200200n, 4, 5], (f, a) => f.mmu.memory.write(a[0] as never, a[1] as never, a[2] as never)],
  ["memory.allocFrame", [], (f) => f.mmu.memory.allocFrame()],
  ["memory.freeFrame", [0x200000n], (f, a) => f.mmu.memory.freeFrame(a[0] as never)],
  ["memory.setAllocBase", [0x800000n], (f, a) => f.mmu.memory.setAllocBase(a[0] as never)],
  // PageTable (raw, 4-level) and LegacyPageTable (PAE)
  ["pt.map", [0x600000n, 0x210000n, 0x1000n, { flags: { writable: true }, pageSize: "4K" }], (f, a) => f.raw.map(a[0] as never, a[1] as never, a[2] as never, a[3] as never)],
  ["pt.mapFresh", [0x700000n, 0x1000n, { writable: true }], (f, a) => f.raw.mapFresh(a[0] as never, a[1] as never, a[2] as never)],
  ["pt.unmap", [RAW_VA, 0x1000n], (f, a) => f.raw.unmap(a[0] as never, a[1] as never)],
  ["pt.protect", [RAW_VA, 0x1000n, { writable: false }], (f, a) => f.raw.protect(a[0] as never, a[1] as never, a[2] as never)],
  ["legacy.map", [0x2000n, 0x310000n, 0x1000n, { flags: { writable: true } }], (f, a) => f.legacy.map(a[0] as never, a[1] as never, a[2] as never, a[3] as never)],
  ["legacy.mapFresh", [0x5000n, 0x1000n, { writable: true }], (f, a) => f.legacy.mapFresh(a[0] as never, a[1] as never, a[2] as never)],
  ["legacy.unmap", [0x1000n, 0x1000n], (f, a) => f.legacy.unmap(a[0] as never, a[1] as never)],
  ["legacy.protect", [0x1000n, 0x1000n, { user: true }], (f, a) => f.legacy.protect(a[0] as never, a[1] as never, a[2] as never)],
  ["pteBits", [{ writable: true, pkey: 3 }], (_f, a) => pteBits(a[0] as never)],
  // DirtyLog, snapshots
  ["dirtyLog.bitmap", [0x200000n, 16], (f, a) => f.mmu.dirtyLog.bitmap(a[0] as never, a[1] as never)],
  // Access encoding, scenarios, inspection
  ["encodeAccess", [{ op: "write", size: 8, cpl: 3, ac: false }], (_f, a) => encodeAccess(a[0] as never)],
  ["withSize", [A(R), 4], (_f, a) => withSize(a[0] as never, a[1] as never)],
  ["toU64", [5n, "x"], (_f, a) => toU64(a[0] as never, a[1] as never)],
  ["parseScenario", [SCENARIO], (_f, a) => parseScenario(a[0] as never)],
  ["parseScenarioText", [JSON.stringify(SCENARIO), "s.json"], (_f, a) => parseScenarioText(a[0] as never, a[1] as never)],
  ["pageMap", ["mmu", { limit: 100 }], (f, a) => pageMap((a[0] === "mmu" ? f.mmu : a[0]) as never, a[1] as never)],
  ["reverseLookup", ["mmu", 0x200000n, { levels: 4 }], (f, a) => reverseLookup((a[0] === "mmu" ? f.mmu : a[0]) as never, a[1] as never, a[2] as never)],
  // VmSpace and its cursor
  ["VmSpace.create", ["mmu", { kind: "user" }], (f, a) => VmSpace.create((a[0] === "mmu" ? f.mmu : a[0]) as never, a[1] as never)],
  ["VmSpace.activeOn", ["mmu"], (f, a) => VmSpace.activeOn((a[0] === "mmu" ? f.mmu : a[0]) as never)],
  ["space.activate", ["mmu"], (f, a) => f.space.activate((a[0] === "mmu" ? f.mmu : a[0]) as never)],
  ["space.cursorMut", [USER + 0x10000n, 0x1000n], (f, a) => f.space.cursorMut(a[0] as never, a[1] as never)],
  ["space.map", [USER + 0x10000n, 0x250000n, 0x1000n, { flags: { writable: true, user: true } }], (f, a) => f.space.map(a[0] as never, a[1] as never, a[2] as never, a[3] as never)],
  ["space.mapFresh", [USER + 0x11000n, 0x1000n, { writable: true, user: true }], (f, a) => f.space.mapFresh(a[0] as never, a[1] as never, a[2] as never)],
  ["space.unmap", [USER + 0x8000n, 0x1000n], (f, a) => f.space.unmap(a[0] as never, a[1] as never)],
  ["space.protect", [USER + 0x8000n, 0x1000n, { user: true }], (f, a) => f.space.protect(a[0] as never, a[1] as never, a[2] as never)],
  ["space.query", [USER], (f, a) => f.space.query(a[0] as never)],
  ["space.createReader", [USER, 0x100n], (f, a) => f.space.createReader(a[0] as never, a[1] as never)],
  ["space.createWriter", [USER, 0x100n], (f, a) => f.space.createWriter(a[0] as never, a[1] as never)],
  ["space.reader", [USER, 0x100n], (f, a) => f.space.reader(a[0] as never, a[1] as never)],
  ["space.writer", [USER, 0x100n], (f, a) => f.space.writer(a[0] as never, a[1] as never)],
  ["space.withReader", [USER, 0x100n, (r: VmReader) => r.remain], (f, a) => f.space.withReader(a[0] as never, a[1] as never, a[2] as never)],
  ["space.withWriter", [USER, 0x100n, (w: VmWriter) => w.avail], (f, a) => f.space.withWriter(a[0] as never, a[1] as never, a[2] as never)],
  ["cursor.jump", [USER + 0x10000n], (f, a) => f.space.cursorMut(USER + 0x10000n, 0x2000n).jump(a[0] as never)],
  ["cursor.map", [0x260000n, { flags: { writable: true } }], (f, a) => f.space.cursorMut(USER + 0x10000n, 0x1000n).map(a[0] as never, a[1] as never)],
  ["cursor.mapRange", [0x260000n, 0x1000n, {}], (f, a) => f.space.cursorMut(USER + 0x10000n, 0x1000n).mapRange(a[0] as never, a[1] as never, a[2] as never)],
  ["cursor.mapFresh", [0x1000n, {}], (f, a) => f.space.cursorMut(USER + 0x10000n, 0x1000n).mapFresh(a[0] as never, a[1] as never)],
  ["cursor.unmap", [0x1000n], (f, a) => f.space.cursorMut(USER + 0x8000n, 0x1000n).unmap(a[0] as never)],
  ["cursor.protect", [0x1000n, { writable: false }], (f, a) => f.space.cursorMut(USER + 0x8000n, 0x1000n).protect(a[0] as never, a[1] as never)],
  // VmSpaceOwner
  ["VmSpaceOwner.checkRange", [{ start: 1n, end: 2n }], (_f, a) => VmSpaceOwner.checkRange(a[0] as never)],
  ["VmSpaceOwner.rangeOf", [1n, 2n], (_f, a) => VmSpaceOwner.rangeOf(a[0] as never, a[1] as never)],
  ["owner.canCreateReader", [USER, 0x10n], (f, a) => f.owner.canCreateReader(a[0] as never, a[1] as never)],
  ["owner.canCreateWriter", [USER, 0x10n], (f, a) => f.owner.canCreateWriter(a[0] as never, a[1] as never)],
  ["owner.createReader", [{ start: USER, end: USER + 0x10n }], (f, a) => f.owner.createReader(a[0] as never)],
  ["owner.createWriter", [{ start: USER, end: USER + 0x10n }], (f, a) => f.owner.createWriter(a[0] as never)],
  ["owner.activateReader", ["r"], (f, a) => f.owner.activateReader((a[0] === "r" ? f.readerTok : a[0]) as never)],
  ["owner.activateWriter", ["w"], (f, a) => f.owner.activateWriter((a[0] === "w" ? f.writerTok : a[0]) as never)],
  ["owner.disposeReader", ["r"], (f, a) => f.owner.disposeReader((a[0] === "r" ? f.reader.token : a[0]) as never)],
  ["owner.disposeWriter", ["w"], (f, a) => f.owner.disposeWriter((a[0] === "w" ? f.writer.token : a[0]) as never)],
  ["owner.removeReader", ["r"], (f, a) => f.owner.removeReader((a[0] === "r" ? f.readerTok : a[0]) as never)],
  ["owner.removeWriter", ["w"], (f, a) => f.owner.removeWriter((a[0] === "w" ? f.writerTok : a[0]) as never)],
  // VmReader / VmWriter and the host cursors
  ["reader.readFallible", ["hw"], (f, a) => f.reader.readFallible((a[0] === "hw" ? f.hostWriter : a[0]) as never)],
  ["reader.readVal", [4], (f, a) => f.reader.readVal(a[0] as never)],
  ["reader.limit", [0x10], (f, a) => f.reader.limit(a[0] as never)],
  ["reader.skip", [1], (f, a) => f.reader.skip(a[0] as never)],
  ["reader.advanceBy", [1], (f, a) => f.reader.advanceBy(a[0] as never)],
  ["writer.writeFallible", ["hr"], (f, a) => f.writer.writeFallible((a[0] === "hr" ? f.hostReader : a[0]) as never)],
  ["writer.writeBytes", [Uint8Array.of(1, 2, 3)], (f, a) => f.writer.writeBytes(a[0] as never)],
  ["writer.writeVal", [4, 0x1234], (f, a) => f.writer.writeVal(a[0] as never, a[1] as never)],
  ["writer.fill", [0xaa, 1], (f, a) => f.writer.fill(a[0] as never, a[1] as never)],
  ["writer.fillZeros", [8], (f, a) => f.writer.fillZeros(a[0] as never)],
  ["writer.limit", [0x10], (f, a) => f.writer.limit(a[0] as never)],
  ["writer.skip", [1], (f, a) => f.writer.skip(a[0] as never)],
  ["InfallibleVmReader.from", [new Uint8Array(4)], (_f, a) => InfallibleVmReader.from(a[0] as never)],
  ["InfallibleVmWriter.from", [new Uint8Array(4)], (_f, a) => InfallibleVmWriter.from(a[0] as never)],
  ["hostReader.read", ["hw"], (f, a) => f.hostReader.read((a[0] === "hw" ? f.hostWriter : a[0]) as never)],
  ["hostReader.readVal", [2], (f, a) => f.hostReader.readVal(a[0] as never)],
  ["hostReader.skip", [1], (f, a) => f.hostReader.skip(a[0] as never)],
  ["hostWriter.write", ["hr"], (f, a) => f.hostWriter.write((a[0] === "hr" ? f.hostReader : a[0]) as never)],
  ["hostWriter.writeVal", [2, 7], (f, a) => f.hostWriter.writeVal(a[0] as never, a[1] as never)],
  ["hostWriter.fill", [1, 2], (f, a) => f.hostWriter.fill(a[0] as never, a[1] as never)],
  ["hostWriter.fillZeros", [4], (f, a) => f.hostWriter.fillZeros(a[0] as never)],
  ["hostWriter.limit", [4], (f, a) => f.hostWriter.limit(a[0] as never)],
  // MemView
  ["MemView.of", [[{ start: 0n, end: 0x1000n, pa: 0n, pageSize: 0x1000n, flags: 1n }]], (_f, a) => MemView.of(a[0] as never)],
  ["MemView.ofMappings", [[{ va: 0n, pa: 0n, size: 0x1000n, flags: 1n }]], (_f, a) => MemView.ofMappings(a[0] as never)],
  ["view.addrTransl", [0x1800n], (f, a) => f.view.addrTransl(a[0] as never)],
  ["view.mappingAt", [0x1800n], (f, a) => f.view.mappingAt(a[0] as never)],
  ["view.covers", [0x1000n, 0x2000n], (f, a) => f.view.covers(a[0] as never, a[1] as never)],
  ["view.firstHole", [0x1000n, 0x4000n], (f, a) => f.view.firstHole(a[0] as never, a[1] as never)],
  ["view.touches", [0x1000n, 0x2000n], (f, a) => f.view.touches(a[0] as never, a[1] as never)],
  ["view.slice", [0x1000n, 0x2000n], (f, a) => f.view.slice(a[0] as never, a[1] as never)],
  ["view.borrowAt", [0x1000n, 0x800n], (f, a) => f.view.borrowAt(a[0] as never, a[1] as never)],
  ["view.split", [0x1000n, 0x800n], (f, a) => f.view.split(a[0] as never, a[1] as never)],
  ["view.join", ["other"], (f, a) => f.view.join((a[0] === "other" ? MemView.of([{ start: 0x8000n, end: 0x9000n, pa: 0n, pageSize: 0x1000n, flags: 1n }]) : a[0]) as never)],
  ["view.replace", [0x1000n, 0x2000n, []], (f, a) => f.view.replace(a[0] as never, a[1] as never, a[2] as never)],
  ["view.mapFlags", [0x1000n, 0x2000n, (x: bigint) => x | 2n], (f, a) => f.view.mapFlags(a[0] as never, a[1] as never, a[2] as never)],
  ["view.disjointFrom", ["self"], (f, a) => f.view.disjointFrom((a[0] === "self" ? f.view : a[0]) as never)],
  ["view.subsetOf", ["self"], (f, a) => f.view.subsetOf((a[0] === "self" ? f.view : a[0]) as never)],
  ["view.translatesLike", ["self", 0x1000n, 0x2000n], (f, a) => f.view.translatesLike((a[0] === "self" ? f.view : a[0]) as never, a[1] as never, a[2] as never)],
  ["view.equals", ["self"], (f, a) => f.view.equals((a[0] === "self" ? f.view : a[0]) as never)],
];

const isGuestFault = (e: unknown): boolean => e instanceof PageFault || e instanceof GeneralProtection || e instanceof NestedPageFault;

function show(v: unknown): string {
  try {
    if (typeof v === "bigint") return `${hex(v)}n`;
    if (typeof v === "symbol") return v.toString();
    if (typeof v === "function") return `function ${v.name}`;
    return JSON.stringify(v, big) ?? String(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

interface Runner {
  f: Fixture;
  before: { guest: string; rest: string } | undefined;
  calls: number;
  problems: string[];
}

function runOne(r: Runner, call: Call, args: unknown[]): void {
  r.before ??= digest(r.f);
  r.calls++;
  const label = `${call[0]}(${args.map(show).join(", ")})`;
  let err: unknown;
  let threw = false;
  try {
    call[2](r.f, args);
  } catch (e) {
    err = e;
    threw = true;
  }
  if (!threw) {
    r.before = undefined; // the call may have changed state: take a new digest before the next one
    return;
  }
  if (!(err instanceof X86MmuError)) {
    r.problems.push(`${label}: raw ${(err as Error)?.constructor?.name}: ${(err as Error)?.message}`);
    r.before = undefined;
    return;
  }
  const after = digest(r.f);
  if (after.rest !== r.before.rest || (!isGuestFault(err) && after.guest !== r.before.guest)) {
    r.problems.push(`${label}: refused (${err.constructor.name}: ${err.message}) but changed state`);
    r.before = after;
  }
}

/** The argument lists of the sweep: each slot made hostile, each field of an options object too. */
function* sweep(good: unknown[]): Generator<unknown[]> {
  for (let i = 0; i < good.length; i++) {
    for (const h of HOSTILE) {
      const a = [...good];
      a[i] = h;
      yield a;
    }
    const g = good[i];
    if (g !== null && typeof g === "object" && Object.getPrototypeOf(g) === Object.prototype) {
      for (const key of Object.keys(g)) {
        for (const h of HOSTILE_FIELD) {
          const a = [...good];
          a[i] = { ...(g as object), [key]: h };
          yield a;
        }
      }
    }
  }
}

describe("argument fuzz over the public API", () => {
  it("the good arguments of the table succeed (so each hostile one replaces a working value)", () => {
    const failed: string[] = [];
    for (const call of CALLS) {
      try {
        call[2](fixture(), call[1]);
      } catch (e) {
        failed.push(`${call[0]}: ${(e as Error).message}`);
      }
    }
    expect(failed).toEqual([]);
  });

  it("every slot of every method: an X86MmuError or success, and a refusal changes nothing", () => {
    const problems: string[] = [];
    let calls = 0;
    for (const call of CALLS) {
      const r: Runner = { f: fixture(), before: undefined, calls: 0, problems };
      for (const args of sweep(call[1])) runOne(r, call, args);
      calls += r.calls;
    }
    if (process.env.X86MMU_ARGFUZZ_OUT) appendFileSync(process.env.X86MMU_ARGFUZZ_OUT, problems.join("\n") + "\n");
    expect(problems.slice(0, 40), `${problems.length} problems in ${calls} calls`).toEqual([]);
    expect(calls).toBeGreaterThan(3000);
  }, 120_000);

  it(`random mixes of hostile and good arguments (seed ${seed})`, () => {
    const pool = (good: unknown[]) => fc.tuple(...[...good].map((g) => fc.oneof(fc.constant(g), fc.constantFrom(...HOSTILE))));
    const samples = fc.sample(fc.integer({ min: 0, max: CALLS.length - 1 }).chain((i) => pool(CALLS[i]![1]).map((args) => [i, args] as const)), { seed, numRuns: 1500 });
    const problems: string[] = [];
    let r: Runner | undefined;
    samples.forEach(([i, args], n) => {
      if (n % 100 === 0) r = { f: fixture(), before: undefined, calls: 0, problems };
      runOne(r!, CALLS[i]!, args);
    });
    expect(problems.slice(0, 40), `seed ${seed}: ${problems.length} problems`).toEqual([]);
  }, 120_000);

  it("a legacy mapFresh over a mapped page is refused before a frame is taken (found by the fuzz)", () => {
    const mmu = new Mmu();
    const legacy = mmu.createPageTable({ mode: "pae" });
    legacy.map(0x1000n, 0x300000n, 0x1000n);
    mmu.dirtyLog.start();
    const inUse = mmu.memory.framesInUse;
    expect(() => legacy.mapFresh(0x0n, 0x2000n)).toThrow("already mapped");
    expect(mmu.memory.framesInUse).toBe(inUse);
    expect(mmu.dirtyLog.frames()).toEqual([]);
  });
});
