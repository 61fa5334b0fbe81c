/**
 * Embedding (issue 8), part 1: probe translation, MMIO devices and the
 * physical layout. Every expected value is derived by hand from the page
 * tables the test builds (Intel SDM Vol. 3A 4.5 for the walk, 4.7 for the
 * error codes, 4.8 for accessed/dirty) and from the device contract of
 * Mmu.mapDevice: a device sees accesses of 1, 2, 4 or 8 bytes, each naturally
 * aligned, an access split at the largest aligned size that fits.
 */
import { describe, expect, it } from "vitest";
import {
  Mmu, LONG_MODE, encodeAccess, ArgumentError, MappingError, PageFault, GeneralProtection, UnmappedPhysicalError, VmSpace,
  InfallibleVmWriter, type Device, type BusSize, type CpuState,
} from "../src/index.js";

const ADDR = 0x000ffffffffff000n;
const A = 1n << 5n;
const D = 1n << 6n;
const PF_P = 0x1;
const PF_W = 0x2;
const PF_U = 0x4;
const PF_RSVD = 0x8;
const PF_ID = 0x10;
const PF_PK = 0x20;

/** The entries of the walk for `va` (PML4E, PDPTE, PDE, PTE as far as they go), read by hand (SDM 4.5). */
function walkEntries(mmu: Mmu, va: bigint): { addr: bigint; value: bigint }[] {
  const out = [];
  let table = mmu.cr3 & ADDR;
  for (let l = 4; l >= 1; l--) {
    const addr = table + ((va >> BigInt(12 + 9 * (l - 1))) & 511n) * 8n;
    const value = mmu.memory.read(addr, 8);
    out.push({ addr, value });
    if ((value & 1n) === 0n || (l > 1 && l < 4 && (value & 0x80n) !== 0n)) break;
    table = value & ADDR;
  }
  return out;
}

/** A device backed by 4 KiB of bytes, logging every call. */
class RegDevice implements Device {
  readonly bytes = new Uint8Array(0x1000);
  log: [string, bigint, number, bigint?][] = [];
  constructor(readonly base: bigint) {}
  read(pa: bigint, size: BusSize): bigint {
    this.log.push(["r", pa, size]);
    let v = 0n;
    const o = Number(pa - this.base);
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(this.bytes[o + i]!);
    return v;
  }
  write(pa: bigint, size: BusSize, value: bigint): void {
    this.log.push(["w", pa, size, value]);
    const o = Number(pa - this.base);
    for (let i = 0; i < size; i++) this.bytes[o + i] = Number((value >> BigInt(8 * i)) & 0xffn);
  }
  take(): [string, bigint, number, bigint?][] {
    const l = this.log;
    this.log = [];
    return l;
  }
}

describe("probe", () => {
  // 0x400000 4K -> 0x20000 user, read-only; 0x401000 4K -> 0x21000 supervisor, writable, XD, pkey 3
  // 0x600000 2M -> 0x40000000 user writable pkey 5; 0x80000000 1G -> 0x1_0000_0000 supervisor writable
  function setup(state: Partial<CpuState> = {}) {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    pt.map(0x400000n, 0x20000n, 0x1000n, { flags: { user: true } });
    pt.map(0x401000n, 0x21000n, 0x1000n, { flags: { writable: true, noExecute: true, pkey: 3 } });
    pt.map(0x600000n, 0x40000000n, 0x200000n, { size: "2M", flags: { writable: true, user: true, pkey: 5 } });
    pt.map(0x80000000n, 0x100000000n, 0x40000000n, { size: "1G", flags: { writable: true } });
    mmu.loadState({ ...LONG_MODE, cr3: pt.root, ...state });
    return mmu;
  }

  it("reports pa, level, page size, rights, key and the leaf for 4K, 2M and 1G pages", () => {
    const mmu = setup();
    // leaf of 0x400000: frame 0x20000 | P | U/S, nothing else (the builder sets no A/D)
    expect(mmu.probe(0x400abcn)).toEqual({
      ok: true, pa: 0x20abcn, level: 1, pageSize: 0x1000n, writable: false, user: true, noExecute: false, pkey: 0, leaf: 0x20000n | 0x5n,
    });
    expect(mmu.probe(0x401008n)).toEqual({
      ok: true, pa: 0x21008n, level: 1, pageSize: 0x1000n, writable: true, user: false, noExecute: true, pkey: 3,
      leaf: 0x21000n | 0x3n | (1n << 63n) | (3n << 59n),
    });
    // 2 MiB page: offset 0x12345 inside the page, PS set in the PDE
    expect(mmu.probe(0x612345n, { op: "write", cpl: 3 })).toEqual({
      ok: true, pa: 0x40012345n, level: 2, pageSize: 0x200000n, writable: true, user: true, noExecute: false, pkey: 5,
      leaf: 0x40000000n | 0x87n | (5n << 59n),
    });
    // 1 GiB page: offset 0x3012345
    expect(mmu.probe(0x83012345n, { op: "write" })).toMatchObject({ ok: true, pa: 0x103012345n, level: 3, pageSize: 0x40000000n, user: false, writable: true, leaf: 0x100000000n | 0x83n });
  });

  it("accumulates rights over the walk: R/W=0 or U/S=0 in a table entry, XD in a table entry", () => {
    const mmu = setup();
    const [pml4e, , pde] = walkEntries(mmu, 0x400000n);
    // clear R/W in the PDE of 0x400000 (and 0x401000): the region is read-only whatever the leaf says
    mmu.memory.write(pde!.addr, 8, pde!.value & ~2n);
    expect(mmu.probe(0x401000n)).toMatchObject({ ok: true, writable: false });
    // XD in the PML4E: every page below it is execute-disabled
    mmu.memory.write(pml4e!.addr, 8, pml4e!.value | (1n << 63n));
    expect(mmu.probe(0x400000n)).toMatchObject({ ok: true, noExecute: true, user: true });
    // U/S=0 in the PML4E: supervisor-only
    mmu.memory.write(pml4e!.addr, 8, pml4e!.value & ~4n);
    expect(mmu.probe(0x400000n)).toMatchObject({ ok: true, user: false });
  });

  it("sets no accessed or dirty flag, for a translation or a fault; translate then sets them", () => {
    const mmu = setup();
    const before = walkEntries(mmu, 0x612345n).map((e) => e.value);
    expect(before.every((v) => (v & (A | D)) === 0n)).toBe(true);
    mmu.probe(0x612345n, { op: "write", cpl: 3 });
    mmu.probe(0x612345n, { op: "fetch", cpl: 3 });
    mmu.probe(0x7ff000n, { op: "write" }); // the same 2 MiB page, another offset
    mmu.probe(0x800000n, { op: "write" }); // not present (no PDE): faults, A on the upper entries must stay clear
    expect(walkEntries(mmu, 0x612345n).map((e) => e.value)).toEqual(before);
    expect(walkEntries(mmu, 0x800000n).map((e) => e.value & A)).toEqual([0n, 0n, 0n]);
    mmu.translate(0x612345n, { op: "write", cpl: 3 });
    const after = walkEntries(mmu, 0x612345n).map((e) => e.value);
    expect(after.map((v) => v & (A | D))).toEqual([A, A, A | D]); // PML4E, PDPTE: A; the 2M leaf: A and D
  });

  it("returns the fault with the SDM error code instead of throwing", () => {
    const mmu = setup({ cr4: LONG_MODE.cr4 | (1n << 22n), pkru: 0b01 << 10 }); // CR4.PKE; PKRU.AD for key 5
    const code = (va: bigint, access: Parameters<Mmu["probe"]>[1]) => {
      const p = mmu.probe(va, access);
      if (p.ok) throw new Error("expected a fault");
      expect(p.fault).toBeInstanceOf(PageFault);
      expect((p.fault as PageFault).cr2).toBe(va);
      return (p.fault as PageFault).errorCode;
    };
    expect(code(0x402000n, { op: "read" })).toBe(0); // not present, supervisor read
    expect(code(0x402000n, { op: "write", cpl: 3 })).toBe(PF_W | PF_U);
    expect(code(0x400000n, { op: "write", cpl: 3 })).toBe(PF_P | PF_W | PF_U); // user write, R/W=0
    expect(code(0x401000n, { op: "read", cpl: 3 })).toBe(PF_P | PF_U); // user read of a supervisor page
    expect(code(0x401000n, { op: "fetch" })).toBe(PF_P | PF_ID); // XD with EFER.NXE=1
    expect(code(0x600000n, { op: "read", cpl: 3 })).toBe(PF_P | PF_U | PF_PK); // key 5 access-disabled for user pages
    // a reserved bit: bit 51 of the leaf with MAXPHYADDR 40
    const m2 = setup({ maxPhyAddr: 40 });
    const leaf = walkEntries(m2, 0x400000n)[3]!;
    m2.memory.write(leaf.addr, 8, leaf.value | (1n << 51n));
    const p = m2.probe(0x400000n);
    expect(p.ok === false && (p.fault as PageFault).errorCode).toBe(PF_P | PF_RSVD);
    const gp = mmu.probe(0x0000800000000000n);
    expect(gp.ok === false && gp.fault).toBeInstanceOf(GeneralProtection);
  });
});

// MMIO layout (4 KiB pages, writable, user):
//   0x400000 -> P0 0x20000 (RAM)   0x401000 -> P1 0x21000 (RAM)
//   0x402000 -> DEV 0xfed00000 (device page)   0x403000 -> P3 0x23000 (RAM)
const P0 = 0x20000n;
const P1 = 0x21000n;
const P3 = 0x23000n;
const DEV = 0xfed00000n;
const V0 = 0x400000n;
const V1 = 0x401000n;
const VD = 0x402000n;
const V3 = 0x403000n;

function mmioSetup() {
  const mmu = new Mmu();
  const pt = mmu.createPageTable();
  const flags = { writable: true, user: true };
  pt.map(V0, P0, 0x2000n, { flags });
  pt.map(VD, DEV, 0x1000n, { flags });
  pt.map(V3, P3, 0x1000n, { flags });
  mmu.loadState({ ...LONG_MODE, cr3: pt.root });
  const dev = new RegDevice(DEV);
  const handle = mmu.mapDevice(DEV, 0x1000n, dev);
  return { mmu, pt, dev, handle };
}

const bytesOf = (v: bigint, n: number) => Array.from({ length: n }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));

describe("MMIO: devices on every path", () => {
  it("loads and stores of 1, 2, 4 and 8 bytes reach the device once, with their size", () => {
    const { mmu, dev } = mmioSetup();
    const vals = { 1: 0xa1n, 2: 0xb2b1n, 4: 0xc4c3c2c1n, 8: 0xd8d7d6d5d4d3d2d1n } as const;
    for (const size of [1, 2, 4, 8] as const) {
      const off = BigInt(size) * 0x10n;
      mmu.write(VD + off, size, vals[size]);
      expect(dev.take()).toEqual([["w", DEV + off, size, vals[size]]]);
      expect(mmu.read(VD + off, size)).toBe(vals[size]);
      expect(dev.take()).toEqual([["r", DEV + off, size]]);
    }
    // nothing went to RAM: the device frame has no storage
    expect(mmu.memory.frames()).not.toContain(DEV);
  });

  it("splits a misaligned access into naturally aligned pieces", () => {
    const { mmu, dev } = mmioSetup();
    dev.bytes.set([0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19]);
    // 8 bytes at offset 1: 1@1, 2@2, 4@4, 1@8
    expect(mmu.read(VD + 1n, 8)).toBe(0x1817161514131211n);
    expect(dev.take()).toEqual([["r", DEV + 1n, 1], ["r", DEV + 2n, 2], ["r", DEV + 4n, 4], ["r", DEV + 8n, 1]]);
    // 4 bytes at offset 6: 2@6, 2@8
    mmu.write(VD + 6n, 4, 0xaabbccddn);
    expect(dev.take()).toEqual([["w", DEV + 6n, 2, 0xccddn], ["w", DEV + 8n, 2, 0xaabbn]]);
  });

  it("splits a page-crossing access at the MMIO boundary (RAM -> device and device -> RAM)", () => {
    const { mmu, dev } = mmioSetup();
    mmu.write(VD - 4n, 8, 0x8877665544332211n);
    expect(dev.take()).toEqual([["w", DEV, 4, 0x88776655n]]);
    expect(mmu.memory.read(P1 + 0xffcn, 4)).toBe(0x44332211n);
    expect(mmu.read(VD - 4n, 8)).toBe(0x8877665544332211n);
    expect(dev.take()).toEqual([["r", DEV, 4]]);
    mmu.write(V3 - 2n, 4, 0xddccbbaan);
    expect(dev.take()).toEqual([["w", DEV + 0xffen, 2, 0xbbaan]]);
    expect(mmu.memory.read(P3, 2)).toBe(0xddccn);
  });

  it("instruction fetches read the device", () => {
    const { mmu, dev } = mmioSetup();
    dev.bytes[0x20] = 0x90;
    expect(mmu.fetch(VD + 0x20n)).toBe(0x90);
    expect(dev.take()).toEqual([["r", DEV + 0x20n, 1]]);
  });

  it("the number fast paths reach the device (loadNumber, storeNumber, page-crossing too)", () => {
    const { mmu, dev } = mmioSetup();
    const st4 = encodeAccess({ op: "write", size: 4, cpl: 3 });
    const ld4 = encodeAccess({ op: "read", size: 4, cpl: 3 });
    expect(mmu.storeNumber(Number(VD + 0x40n), st4, 0xfeedf00d)).toBe(0);
    expect(dev.take()).toEqual([["w", DEV + 0x40n, 4, 0xfeedf00dn]]);
    expect(mmu.loadNumber(Number(VD + 0x40n), ld4)).toBe(0xfeedf00d);
    expect(dev.take()).toEqual([["r", DEV + 0x40n, 4]]);
    // crossing: 2 bytes of RAM (P1 + 0xffe), 2 bytes of device (DEV)
    mmu.memory.write(P1 + 0xffen, 2, 0x2211n);
    dev.bytes.set([0x33, 0x44]);
    expect(mmu.loadNumber(Number(VD - 2n), ld4)).toBe(0x44332211);
    expect(dev.take()).toEqual([["r", DEV, 2]]);
    // translateNumber does not access memory: no device call
    expect(mmu.translateNumber(Number(VD + 8n), ld4)).toBe(Number(DEV + 8n));
    expect(dev.take()).toEqual([]);
  });

  it("Batch load and store reach the device between RAM accesses", () => {
    const { mmu, dev } = mmioSetup();
    const b = mmu.batch(4);
    b.input.set([V0 + 8n, VD + 8n, V1 + 16n, VD + 0x18n]);
    b.values.set([0x1111n, 0x2222n, 0x3333n, 0x4444n]);
    expect(b.store(4, { op: "write", size: 8 })).toBe(4);
    expect(dev.take()).toEqual([["w", DEV + 8n, 8, 0x2222n], ["w", DEV + 0x18n, 8, 0x4444n]]);
    expect(mmu.memory.read(P0 + 8n, 8)).toBe(0x1111n);
    expect(mmu.memory.read(P1 + 16n, 8)).toBe(0x3333n);
    b.output.fill(0n);
    expect(b.load(4, { op: "read", size: 8 })).toBe(4);
    expect([...b.output]).toEqual([0x1111n, 0x2222n, 0x3333n, 0x4444n]);
    expect(dev.take()).toEqual([["r", DEV + 8n, 8], ["r", DEV + 0x18n, 8]]);
  });

  it("readBytes / writeBytes split at the MMIO boundary inside the copy", () => {
    const { mmu, dev } = mmioSetup();
    const data = Uint8Array.from({ length: 24 }, (_, i) => 0x40 + i);
    mmu.writeBytes(VD - 8n, data); // 8 bytes of RAM (P1 + 0xff8), 16 of device (2 x 8 at DEV, DEV + 8)
    expect(mmu.memory.readBytes(P1 + 0xff8n, 8)).toEqual(data.subarray(0, 8));
    expect(dev.take()).toEqual([
      ["w", DEV, 8, 0x4f4e4d4c4b4a4948n],
      ["w", DEV + 8n, 8, 0x5756555453525150n],
    ]);
    expect(mmu.readBytes(VD - 8n, 24)).toEqual(data);
    expect(dev.take()).toEqual([["r", DEV, 8], ["r", DEV + 8n, 8]]);
    // device -> RAM: 3 device bytes at 0xffd (1@ffd, 2@ffe), then 5 RAM bytes at P3
    mmu.writeBytes(V3 - 3n, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]));
    expect(dev.take()).toEqual([["w", DEV + 0xffdn, 1, 0x01n], ["w", DEV + 0xffen, 2, 0x0302n]]);
    expect([...mmu.memory.readBytes(P3, 5)]).toEqual([4, 5, 6, 7, 8]);
  });

  it("VmReader / VmWriter copies through a VmSpace that maps the device page split at the boundary", () => {
    const mmu = new Mmu();
    const space = VmSpace.create(mmu);
    space.mapFresh(0x10000n, 0x1000n);
    space.map(0x11000n, DEV, 0x1000n);
    space.mapFresh(0x12000n, 0x1000n);
    space.activate();
    const dev = new RegDevice(DEV);
    mmu.mapDevice(DEV, 0x1000n, dev);
    // writer over 0x10ffc..0x11008: 4 bytes of RAM, then 8 bytes of device at DEV (one 8-byte write)
    const data = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    space.withWriter(0x10ffcn, 12, (w) => expect(w.writeBytes(data)).toEqual({ copied: 12, fault: undefined }));
    expect(dev.take()).toEqual([["w", DEV, 8, 0x0c0b0a0908070605n]]);
    expect([...space.withReader(0x10ffcn, 4, (r) => r.collect())]).toEqual([1, 2, 3, 4]);
    // reader over 0x11ff8..0x12008 into a host buffer: 8 device bytes (one read at DEV+0xff8), then 8 of RAM
    dev.bytes.set([0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7], 0xff8);
    space.withWriter(0x12000n, 8, (w) => w.writeBytes(Uint8Array.from([0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7])));
    dev.take();
    const out = new Uint8Array(16);
    space.withReader(0x11ff8n, 16, (r) => expect(r.readFallible(InfallibleVmWriter.from(out))).toEqual({ copied: 16, fault: undefined }));
    expect([...out]).toEqual([0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7]);
    expect(dev.take()).toEqual([["r", DEV + 0xff8n, 8]]);
    // space -> space: 16 RAM bytes at 0x12000 to the device at 0x11010 (two 8-byte writes)
    const r = space.reader(0x12000n, 16n);
    const w = space.writer(0x11010n, 16n);
    expect(w.writeFallible(r)).toEqual({ copied: 16, fault: undefined });
    r.close();
    w.close();
    expect(dev.take()).toEqual([["w", DEV + 0x10n, 8, 0xb7b6b5b4b3b2b1b0n], ["w", DEV + 0x18n, 8, 0n]]);
  });

  it("the physical API (memory.read / write / readBytes / writeBytes) reaches the device", () => {
    const { mmu, dev } = mmioSetup();
    mmu.memory.write(DEV + 0x40n, 8, 0x0102030405060708n);
    expect(dev.take()).toEqual([["w", DEV + 0x40n, 8, 0x0102030405060708n]]);
    expect(mmu.memory.read(DEV + 0x44n, 4)).toBe(0x01020304n);
    expect(dev.take()).toEqual([["r", DEV + 0x44n, 4]]);
    // RAM below the device page, then the device
    mmu.memory.writeBytes(DEV - 8n, Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]));
    expect(dev.take()).toEqual([["w", DEV, 8, 0x100f0e0d0c0b0a09n]]);
    expect(mmu.memory.frames()).toContain(DEV - 0x1000n);
    expect([...mmu.memory.readBytes(DEV - 4n, 8)]).toEqual([5, 6, 7, 8, 9, 10, 11, 12]);
    expect(dev.take()).toEqual([["r", DEV, 4]]);
  });

  it("a device covering part of a page: the rest of the page stays RAM; an access starting in the device splits at its end", () => {
    const mmu = new Mmu();
    const dev = new RegDevice(0x50000n);
    mmu.mapDevice(0x50100n, 0x10n, dev);
    mmu.memory.write(0x50000n, 8, 0x55n); // RAM on the device's page
    expect(dev.take()).toEqual([]);
    expect(mmu.memory.read(0x50000n, 8)).toBe(0x55n);
    mmu.memory.write(0x50100n, 4, 0x11223344n);
    expect(dev.take()).toEqual([["w", 0x50100n, 4, 0x11223344n]]);
    mmu.memory.write(0x5010cn, 8, 0xaabbccdd00000000n); // 4 device bytes (up to 0x50110), then 4 RAM
    expect(dev.take()).toEqual([["w", 0x5010cn, 4, 0n]]);
    expect(mmu.memory.read(0x50110n, 4)).toBe(0xaabbccddn);
    expect(dev.take()).toEqual([]);
  });

  it("an access that starts in RAM and runs into a device in the same page splits at the device start", () => {
    const mmu = new Mmu();
    const dev = new RegDevice(0x50000n);
    mmu.mapDevice(0x50100n, 0x10n, dev);
    mmu.memory.write(0x500fcn, 8, 0x1122334455667788n); // 4 RAM bytes, then 4 device bytes at 0x50100
    expect(dev.take()).toEqual([["w", 0x50100n, 4, 0x11223344n]]);
    expect(mmu.memory.read(0x500fcn, 4)).toBe(0x55667788n);
  });

  it("RAM keeps its fast path: RAM pages never call the device, and the core serves them without the host", () => {
    const { mmu, dev } = mmioSetup();
    const x = mmu.coreInstance.x;
    const ld = encodeAccess({ op: "read", size: 4 });
    mmu.write(V0 + 4n, 4, 0x12345678n);
    expect(mmu.loadNumber(Number(V0 + 4n), ld)).toBe(0x12345678);
    expect(mmu.read(V1, 8)).toBe(0n);
    expect(dev.take()).toEqual([]);
    // the core's own load returns the value for a RAM page, and a negative status (host needed) for the device page
    expect(x.loadLinear(Number(V0 + 4n), 0, ld)).toBe(0x12345678);
    expect(x.loadLinear(Number(VD), 0, ld)).toBeLessThan(0);
    expect(dev.take()).toEqual([]);
  });
});

describe("MMIO: refusals and removal", () => {
  it("a device over RAM that holds data is refused (MMIO_OVER_RAM) and changes nothing", () => {
    const mmu = new Mmu();
    mmu.memory.write(0x30008n, 1, 0x7f);
    const frames = mmu.memory.framesInUse;
    const dev = new RegDevice(0x30000n);
    for (const [s, l] of [[0x30000n, 0x1000n], [0x2f000n, 0x2000n], [0x30ff0n, 0x10n]] as const) {
      let err: unknown;
      try {
        mmu.mapDevice(s, l, dev);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MappingError);
      expect((err as MappingError).code).toBe("MMIO_OVER_RAM");
    }
    expect(mmu.memory.read(0x30008n, 1)).toBe(0x7fn);
    expect(mmu.memory.framesInUse).toBe(frames);
    expect(dev.take()).toEqual([]);
    // nothing was registered: a device on the free frame next to it does not overlap anything
    expect(() => mmu.mapDevice(0x2f000n, 0x1000n, new RegDevice(0x2f000n))).not.toThrow();
  });

  it("overlapping devices are refused (MMIO_OVERLAP); adjacent ones are fine", () => {
    const { mmu, dev } = mmioSetup();
    const other = new RegDevice(DEV + 0x800n);
    let err: unknown;
    try {
      mmu.mapDevice(DEV + 0x800n, 0x1000n, other);
    } catch (e) {
      err = e;
    }
    expect((err as MappingError).code).toBe("MMIO_OVERLAP");
    mmu.read(VD + 0x900n, 1);
    expect(dev.take()).toEqual([["r", DEV + 0x900n, 1]]);
    expect(() => mmu.mapDevice(DEV + 0x1000n, 0x1000n, other)).not.toThrow();
  });

  it("invalid devices and ranges are ArgumentErrors", () => {
    const mmu = new Mmu({ maxPhyAddr: 40 });
    const dev = new RegDevice(0n);
    expect(() => mmu.mapDevice(0x10000n, 0n, dev)).toThrow(ArgumentError);
    expect(() => mmu.mapDevice((1n << 40n) - 0x1000n, 0x2000n, dev)).toThrow(ArgumentError);
    expect(() => mmu.mapDevice(0x10000n, 0x1000n, { read: () => 0 } as unknown as Device)).toThrow(ArgumentError);
  });

  it("removing a device makes its range RAM again (the TLB forgets the device page)", () => {
    const { mmu, dev, handle } = mmioSetup();
    dev.bytes[0] = 0x99;
    expect(mmu.read(VD, 1)).toBe(0x99n); // TLB entry for VD filled
    dev.take();
    handle.remove();
    expect(mmu.read(VD, 1)).toBe(0n); // RAM never written
    mmu.write(VD, 8, 0xabcdn);
    expect(mmu.memory.read(DEV, 8)).toBe(0xabcdn);
    expect(dev.take()).toEqual([]);
    expect(mmu.coreInstance.x.loadLinear(Number(VD), 0, encodeAccess({ op: "read", size: 4 }))).toBe(0xabcd); // fast path again
    // the range now holds data: mapping a device there again is refused
    expect(() => mmu.mapDevice(DEV, 0x1000n, dev)).toThrow(MappingError);
  });
});

describe("physical layout: unmapped addresses read as zero or fault", () => {
  // 0x400000 -> 0xfff000 (last RAM page), 0x401000 -> 0x1000000 (first unmapped page)
  function setup(unmapped: "zero" | "fault" | undefined) {
    const mmu = new Mmu();
    const pt = mmu.createPageTable();
    pt.map(0x400000n, 0xfff000n, 0x1000n, { flags: { writable: true } });
    pt.map(0x401000n, 0x1000000n, 0x1000n, { flags: { writable: true } });
    mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    mmu.setPhysicalLayout({ ram: [{ start: 0n, length: 0x1000000n }], ...(unmapped ? { unmapped } : {}) });
    return mmu;
  }

  it("zero (the default): reads give 0, writes are dropped, no frame gets storage", () => {
    const mmu = setup(undefined);
    const frames = mmu.memory.framesInUse;
    mmu.write(0x401000n, 8, 0x1234n);
    expect(mmu.read(0x401000n, 8)).toBe(0n);
    expect(mmu.memory.read(0x1000000n, 8)).toBe(0n);
    mmu.memory.write(0x1000010n, 4, 5);
    expect(mmu.memory.read(0x1000010n, 4)).toBe(0n);
    // a page-crossing write: the RAM half lands, the unmapped half is dropped
    mmu.write(0x400ffcn, 8, 0x8877665544332211n);
    expect(mmu.read(0x400ffcn, 8)).toBe(0x44332211n);
    expect(mmu.memory.framesInUse).toBe(frames + 1); // only 0xfff000
  });

  it("fault: reads and writes throw UnmappedPhysicalError with the address and op", () => {
    const mmu = setup("fault");
    const catchIt = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as UnmappedPhysicalError;
      }
      throw new Error("expected UnmappedPhysicalError");
    };
    let e = catchIt(() => mmu.read(0x401010n, 4));
    expect(e).toBeInstanceOf(UnmappedPhysicalError);
    expect([e.pa, e.op, e.code]).toEqual([0x1000010n, "read", "UNMAPPED_PHYSICAL"]);
    e = catchIt(() => mmu.write(0x401000n, 1, 1));
    expect([e.pa, e.op]).toEqual([0x1000000n, "write"]);
    e = catchIt(() => mmu.memory.read(0x1000000n, 8));
    expect(e).toBeInstanceOf(UnmappedPhysicalError);
    // RAM still works, and translation itself does not touch the page
    mmu.write(0x400000n, 4, 7);
    expect(mmu.read(0x400000n, 4)).toBe(7n);
    expect(mmu.translate(0x401000n)).toBe(0x1000000n);
  });

  it("fault: a page-crossing write into unmapped space writes nothing (Mmu.write)", () => {
    const mmu = setup("fault");
    expect(() => mmu.write(0x400ffcn, 8, 0x8877665544332211n)).toThrow(UnmappedPhysicalError);
    expect(mmu.memory.read(0xfffffcn, 4)).toBe(0n); // 0x400ffc -> 0xfffffc: the RAM half
  });

  it("fault: writeBytes / memory.writeBytes into unmapped space write nothing", () => {
    const mmu = setup("fault");
    expect(() => mmu.writeBytes(0x400ff0n, new Uint8Array(32).fill(0xaa))).toThrow(UnmappedPhysicalError);
    expect(() => mmu.memory.writeBytes(0xfffff0n, new Uint8Array(32).fill(0xbb))).toThrow(UnmappedPhysicalError);
    expect([...mmu.memory.readBytes(0xfffff0n, 16)]).toEqual(new Array(16).fill(0));
  });

  it("devices live in the holes; a refused layout keeps the old one; undefined restores all-RAM", () => {
    const mmu = setup("fault");
    const dev = new RegDevice(0x1000000n);
    mmu.mapDevice(0x1000000n, 0x1000n, dev);
    mmu.write(0x401000n, 2, 0xbeef);
    expect(dev.take()).toEqual([["w", 0x1000000n, 2, 0xbeefn]]);
    mmu.write(0x400000n, 1, 1); // RAM at 0xfff000 holds data
    let err: unknown;
    try {
      // the hole [0xfff000, 0x1000000) holds no device, only the data
      mmu.setPhysicalLayout({ ram: [{ start: 0n, length: 0xfff000n }, { start: 0x1000000n, length: 0x1000n }], unmapped: "fault" });
    } catch (e) {
      err = e;
    }
    expect((err as MappingError).code).toBe("MMIO_OVER_RAM");
    expect(mmu.read(0x400000n, 1)).toBe(1n); // old layout kept
    expect(() => mmu.setPhysicalLayout({ ram: [{ start: 0n, length: 0x1000000n }], unmapped: "maybe" as "zero" })).toThrow(ArgumentError);
    expect(() => mmu.read(0x401004n, 1)).not.toThrow(); // device still there
    mmu.setPhysicalLayout(undefined);
    mmu.memory.write(0x2000000n, 4, 9);
    expect(mmu.memory.read(0x2000000n, 4)).toBe(9n);
  });

  it("a layout that would unmap RAM holding data is refused even when a device sits in the same hole", () => {
    const mmu = setup("fault");
    mmu.mapDevice(0x1000000n, 0x1000n, new RegDevice(0x1000000n));
    mmu.write(0x400000n, 1, 1); // RAM at 0xfff000 holds data; the hole [0x800000, 2^52) also holds the device
    expect(() => mmu.setPhysicalLayout({ ram: [{ start: 0n, length: 0x800000n }], unmapped: "fault" })).toThrow(MappingError);
    expect(mmu.read(0x400000n, 1)).toBe(1n);
  });
});
