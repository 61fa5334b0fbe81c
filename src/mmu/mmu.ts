/**
 * `Mmu`: the x86-64 memory-management unit an emulator embeds. It owns one
 * WebAssembly core instance: physical memory (a sparse frame store up to
 * 2^MAXPHYADDR), the paging registers, the TLB, and the page walker.
 *
 * Addresses are `bigint` (the whole 64-bit space, kernel half included) or,
 * on the number fast paths, safe integers below 2^53. Faults the guest would
 * see are thrown as `PageFault` / `GeneralProtection` by the bigint API; the
 * number fast paths return -1 instead and leave the fault in `lastFault()`.
 *
 * Register writes behave like the instructions: `cr3 = v` is MOV to CR3 (bit
 * 63 with CR4.PCIDE=1 keeps the PCID's TLB entries), `cr4 = v` flushes as the
 * SDM says, `invlpg` and `invpcid` invalidate what the SDM says. Values the
 * processor would refuse with #GP throw RegisterError and change nothing.
 */

import { CR0_PG_BIT, CR4_LA57_BIT, CR4_PCIDE_BIT, EFER_LMA_BIT, EFER_LME_BIT, CR3_NOFLUSH_BIT, PAGE_SIZE, ACCESS_SIZE_SHIFT, ACCESS_USER, ACCESS_WRITE, PAGE_SHIFT } from "../arch/index.js";
import { STATUS_NO_MEMORY, STATUS_SPECIAL, MB_STATUS, MB_VALUE_HI, MB_LEVEL, MB_PA, MB_RIGHTS, MB_LEAF } from "../arch/index.js";
import { Bus, registerBus, type Device, type HookSpec, type Handle } from "../phys/index.js";
import { DirtyLog, Snapshot, Snapshots } from "../phys/index.js";
import { type Address, toU64, toSized, lo32, hi32, checkNumber, hiOfNumber, hex, bigOfNumber, join64 } from "../base/index.js";
import { type AccessOptions, type AccessSize, encodeAccess, encodeWith, withSize, checkAccess, checkLoadNumber, checkStoreNumber } from "./access.js";
import { Core, type CoreAttachment } from "../core/index.js";
import { ArgumentError, OutOfMemoryError, RegisterError, type Fault, show, showName, optionsOf, bytesOf } from "../base/index.js";
import { PhysicalMemory, MAX_RANGE } from "../phys/index.js";
import { translatorsOf, spaceToHost, hostToSpace, type Translated } from "./copy.js";
import { PageTable, type PageTableOptions } from "./page-table.js";
import { LegacyPageTable, tableFormatOf, type LegacyPageTableOptions } from "./legacy-page-table.js";
import {
  type CpuState, type PagingMode, type NestedState, U32, NASID, checkMaxPhyAddr, checkMode as checkRegisters, checkNestedGuest,
  pagingModeOf, pdpteError, withLma,
} from "./registers.js";
import { FaultHandlers, MAX_FAULT_RETRIES, opOf, type FaultHandler } from "./fault-recovery.js";
import { Batch, type AccessArg } from "./batch.js";

export { type CpuState, type PagingMode, type NestedState, LONG_MODE, NASID, pagingModeOf } from "./registers.js";
export { MAX_FAULT_RETRIES, type FaultHandler, type FaultContext } from "./fault-recovery.js";
export { Batch, decodeBatchFault, type AccessArg } from "./batch.js";


/** The outcome of a translation that does not throw. */
export type Translation =
  | { ok: true; pa: bigint; /** 1 = 4 KiB page, 2 = 2 MiB, 3 = 1 GiB */ level: number }
  | { ok: false; fault: Fault };

/** What probe() finds: the translation, the page, and the rights accumulated over the walk. */
export type Probe =
  | {
      ok: true;
      pa: bigint;
      /** Leaf level: 1 = 4 KiB page, 2 = 2 MiB, 3 = 1 GiB. */
      level: number;
      pageSize: bigint;
      /** R/W=1 in every entry of the walk. */
      writable: boolean;
      /** U/S=1 in every entry of the walk. */
      user: boolean;
      /** XD=1 in some entry (with EFER.NXE=1). */
      noExecute: boolean;
      /** The leaf's protection key. */
      pkey: number;
      /** The leaf entry's value. */
      leaf: bigint;
      /** Under nested paging: the guest-physical address (`pa` is then host-physical). */
      guestPhysical?: bigint;
      /** Under nested paging: the nested leaf entry that maps the guest-physical page (its rights are the host's). */
      nestedLeaf?: bigint;
    }
  | { ok: false; fault: Fault };



const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) !== 0n;

/** The default access of translate and tryTranslate: a supervisor read of 1 byte (encoded once). */
const READ = encodeAccess({ op: "read" });

/** storeNumber's values lie below 2^(8 * size), by size. */
const STORE_LIMIT = [0, 2 ** 8, 2 ** 16, 0, 2 ** 32];


/** The TLB's size and associativity (`new Mmu({ tlb })`, Mmu.tlbGeometry): `entries` in sets of `ways`, both powers of two. */
export interface TlbGeometry {
  /** 16..8192; default 1024. */
  entries: number;
  /** 1 (direct-mapped, the default)..16, at most `entries`. */
  ways: number;
}

/** What `new Mmu(options)` takes: registers to start with (as loadState), and the TLB's geometry. */
export interface MmuOptions extends Partial<CpuState> {
  tlb?: TlbGeometry;
}

/** TLB and walk counters (Mmu.tlbStats). */
export interface TlbStats {
  hits: number;
  misses: number;
  walks: number;
  entriesRead: number;
  /** Walks that started from the PDE cache (a paging-structure cache, SDM 4.10.3) and read only the PTE. */
  pscHits: number;
}

/** One TLB entry (Mmu.tlbEntries): `read`/`write`/`fetch` list the modes it serves: "cpl0", "cpl0+ac" (EFLAGS.AC=1), "cpl3". */
export interface TlbEntry {
  slot: number;
  linear: bigint;
  pcid: number;
  asid: number;
  frame: bigint;
  pageSize: bigint;
  global: boolean;
  /** A device or hooked page: the entry never serves the fast paths. */
  device: boolean;
  read: string[];
  write: string[];
  fetch: string[];
}

/** What a snapshot keeps of the processor: the registers and the PAE PDPTE registers. */
export type SavedRegisters = Required<CpuState> & { readonly pdptes: readonly bigint[]; readonly nested?: Readonly<Required<NestedState>> };

/** The TLB geometry option, checked (ArgumentError naming the field); the default 1024 x 1. */
function checkGeometry(tlb: unknown): TlbGeometry {
  if (tlb === undefined) return { entries: 1024, ways: 1 };
  const g = optionsOf(tlb as object, "the tlb option") as Partial<TlbGeometry>;
  const pow2 = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0 && ((v as number) & ((v as number) - 1)) === 0;
  const entries = g.entries ?? 1024;
  const ways = g.ways ?? 1;
  if (!pow2(entries) || entries < 16 || entries > 8192) throw new ArgumentError(`tlb.entries is a power of two in 16..8192, not ${show(entries)}`);
  if (!pow2(ways) || ways > 16 || ways > entries) throw new ArgumentError(`tlb.ways is a power of two in 1..16, at most tlb.entries, not ${show(ways)}`);
  return { entries, ways };
}

export class Mmu {
  /** Nested paging while a guest runs (enterGuest). */
  private nestedState: Required<NestedState> | undefined;
  /** Physical memory: direct access, frame allocation, usage. */
  readonly memory: PhysicalMemory;
  private readonly core: Core;
  private regs: Required<CpuState>;
  /** Devices, the physical layout and access hooks: where accesses go when they leave the fast path. */
  private readonly bus: Bus;
  private readonly faultHandlers = new FaultHandlers();
  /** The dirty log: frames written since it was last cleared. */
  readonly dirtyLog: DirtyLog;
  private readonly snapshots: Snapshots<SavedRegisters>;
  // The core's hot entry points, held directly (one property load less per call).
  private readonly xTranslate: Core["x"]["translate"];
  private readonly xLoad: Core["x"]["loadLinear"];
  private readonly xStore: Core["x"]["storeLinear"];

  private readonly geometry: Readonly<TlbGeometry & { sets: number }>;

  /**
   * A processor with its own physical memory; the registers as `options`
   * gives them (CR0 0x60000010, the reset value, by default), and the TLB
   * geometry `options.tlb`. (`attach` is internal: one CPU of a
   * SharedMachine, over its shared memory.)
   */
  constructor(options?: MmuOptions, /** @internal */ attach?: CoreAttachment) {
    const { tlb, ...state } = optionsOf(options ?? {}, "Mmu options") as MmuOptions;
    const geometry = checkGeometry(tlb);
    this.core = new Core(attach);
    this.core.x.perCpuClear();
    if (!this.core.x.tlbConfigure(geometry.entries, geometry.ways)) throw new ArgumentError(`TLB geometry ${geometry.entries} x ${geometry.ways} refused by the core`);
    this.geometry = Object.freeze({ ...geometry, sets: geometry.entries / geometry.ways });
    this.xTranslate = this.core.x.translate;
    this.xLoad = this.core.x.loadLinear;
    this.xStore = this.core.x.storeLinear;
    this.memory = new PhysicalMemory(this.core, () => this.regs.maxPhyAddr);
    this.bus = new Bus(this.core, () => this.regs.maxPhyAddr);
    this.faultHandlers.guard = (fn) => this.bus.callback("a fault handler", fn);
    registerBus(this.core, this.bus);
    this.memory.bus = this.bus;
    this.dirtyLog = new DirtyLog(this.core);
    this.snapshots = new Snapshots(this.core, this);
    this.memory.onReset = () => this.snapshots.invalidateAll();
    this.regs = { cr0: 0x60000010n, cr3: 0n, cr4: 0n, efer: 0n, pkru: 0, pkrs: 0, maxPhyAddr: 52 };
    this.core.x.setMaxPhyAddr(52);
    if (options) this.loadState({ ...this.regs, ...state });
  }

  /** The TLB's geometry: entries, ways and sets (fixed at creation). */
  get tlbGeometry(): Readonly<TlbGeometry & { sets: number }> {
    return this.geometry;
  }

  /** @internal The WebAssembly core instance (for the owner-guarded I/O layer's bulk copies). */
  get coreInstance(): Core {
    return this.core;
  }

  // ---- Registers ----

  /** The current register values. */
  get state(): Required<CpuState> {
    return { ...this.regs };
  }

  /**
   * Loads every register at once, as a fresh processor state (e.g. a
   * scenario's `cpu`), and flushes the TLB entirely. Checks the combination
   * first: throws RegisterError (changing nothing) for reserved bits or a
   * paging mode other than off or long mode.
   */
  loadState(state: CpuState): void {
    if (typeof state !== "object" || state === null) throw new ArgumentError(`loadState needs { cr0, cr3, cr4, efer, pkru?, pkrs?, maxPhyAddr? }, not ${show(state)}`);
    const next: Required<CpuState> = {
      cr0: toU64(state.cr0, "CR0"),
      cr3: toU64(state.cr3, "CR3") & ~(1n << BigInt(CR3_NOFLUSH_BIT)),
      cr4: toU64(state.cr4, "CR4"),
      efer: toU64(state.efer, "EFER"),
      pkru: U32(state.pkru ?? 0, "PKRU"),
      pkrs: U32(state.pkrs ?? 0, "IA32_PKRS"),
      maxPhyAddr: state.maxPhyAddr ?? this.regs.maxPhyAddr,
    };
    checkMaxPhyAddr(next.maxPhyAddr, this.core.x.highestBackedPfnPlusOne());
    this.checkMode(next);
    const x = this.core.x;
    x.setMaxPhyAddr(next.maxPhyAddr);
    x.writePkru(next.pkru);
    x.writePkrs(next.pkrs);
    if (!x.loadRegisters(lo32(next.cr0), hi32(next.cr0), lo32(next.cr3), hi32(next.cr3), lo32(next.cr4), hi32(next.cr4), lo32(next.efer), hi32(next.efer))) {
      // The PDPTEs could not be loaded: put the old state back as it was.
      const old = this.regs;
      x.setMaxPhyAddr(old.maxPhyAddr);
      x.writePkru(old.pkru);
      x.writePkrs(old.pkrs);
      throw pdpteError("loadState", next.cr3);
    }
    this.regs = next;
  }

  /** The registers form a state a processor can be in, for the guest too while one runs. */
  private checkMode(s: Required<CpuState>): void {
    checkRegisters(s);
    if (this.nestedState) checkNestedGuest(s);
  }

  /** The paging mode the registers select: "off", "32-bit", "pae", "4-level" or "5-level". */
  get pagingMode(): PagingMode {
    return pagingModeOf(this.regs);
  }

  /**
   * The four PDPTE registers (PAE paging, SDM 4.4.1): loaded from the PDPT at
   * CR3[31:5] by MOV to CR3 (and by the CR0/CR4 changes the SDM lists), then
   * used by every walk until the next load, whatever memory holds.
   */
  get pdptes(): bigint[] {
    const x = this.core.x;
    return [0, 1, 2, 3].map((i) => join64(x.pdpteLo(i), x.pdpteHi(i)));
  }

  /**
   * Loads the PDPTE registers again from memory, as a MOV to CR3 of the same
   * value would (the TLB is flushed). Under another mode it only flushes.
   * Throws RegisterError (code PDPTE_RESERVED, nothing changed) when a present
   * PDPTE sets a reserved bit.
   */
  reloadPdptes(): void {
    if (!this.core.x.reloadPdptes()) throw pdpteError("reloading the PDPTEs", this.regs.cr3);
  }


  get cr0(): bigint {
    return this.regs.cr0;
  }
  /**
   * MOV to CR0. Turning paging on or off with EFER.LME=1 enters or leaves
   * IA-32e mode: EFER.LMA follows (CR0.PG AND EFER.LME).
   */
  set cr0(v: bigint) {
    const cr0 = toU64(v, "CR0");
    const next = { ...this.regs, cr0, efer: withLma(cr0, this.regs.efer) };
    if (bit(this.regs.cr4, CR4_PCIDE_BIT) && bit(this.regs.cr0, CR0_PG_BIT) && !bit(cr0, CR0_PG_BIT)) {
      throw new RegisterError("CR0.PG cannot be cleared while CR4.PCIDE=1");
    }
    this.checkMode(next);
    const x = this.core.x;
    if (next.efer !== this.regs.efer) x.writeEfer(lo32(next.efer), hi32(next.efer));
    if (!x.movCr0(lo32(next.cr0), hi32(next.cr0))) {
      if (next.efer !== this.regs.efer) x.writeEfer(lo32(this.regs.efer), hi32(this.regs.efer));
      throw pdpteError("MOV to CR0", next.cr3);
    }
    this.regs = next;
  }

  get cr3(): bigint {
    return this.regs.cr3;
  }
  /** MOV to CR3: with CR4.PCIDE=1, bit 63 set keeps the new PCID's TLB entries (bit 63 is not stored). */
  set cr3(v: bigint) {
    const value = toU64(v, "CR3");
    const next = { ...this.regs, cr3: value & ~(1n << BigInt(CR3_NOFLUSH_BIT)) };
    this.checkMode(next);
    if (!this.core.x.movCr3(lo32(value), hi32(value))) throw pdpteError("MOV to CR3", next.cr3);
    this.regs = next;
  }

  get cr4(): bigint {
    return this.regs.cr4;
  }
  /** MOV to CR4. Refuses (as #GP would) to change LA57 in long mode or to set PCIDE with CR3[11:0] != 0. */
  set cr4(v: bigint) {
    const value = toU64(v, "CR4");
    const next = { ...this.regs, cr4: value };
    const longMode = bit(this.regs.cr0, CR0_PG_BIT) && bit(this.regs.efer, EFER_LMA_BIT);
    if (longMode && bit(value, CR4_LA57_BIT) !== bit(this.regs.cr4, CR4_LA57_BIT)) {
      throw new RegisterError("CR4.LA57 cannot change while paging is on in long mode (load a new state instead)");
    }
    if (!bit(this.regs.cr4, CR4_PCIDE_BIT) && bit(value, CR4_PCIDE_BIT) && (this.regs.cr3 & 0xfffn) !== 0n) {
      throw new RegisterError("CR4.PCIDE can be set only while CR3[11:0] = 0");
    }
    this.checkMode(next);
    if (!this.core.x.movCr4(lo32(value), hi32(value))) throw pdpteError("MOV to CR4", next.cr3);
    this.regs = next;
  }

  get efer(): bigint {
    return this.regs.efer;
  }
  /**
   * WRMSR IA32_EFER. LMA is read-only (the value written is replaced by CR0.PG
   * AND EFER.LME); LME cannot change while paging is on (#GP).
   */
  set efer(v: bigint) {
    const value = toU64(v, "EFER");
    if (bit(this.regs.cr0, CR0_PG_BIT) && bit(value, EFER_LME_BIT) !== bit(this.regs.efer, EFER_LME_BIT)) {
      throw new RegisterError("EFER.LME cannot change while CR0.PG=1");
    }
    const next = { ...this.regs, efer: withLma(this.regs.cr0, value) };
    this.checkMode(next);
    this.regs = next;
    this.core.x.writeEfer(lo32(next.efer), hi32(next.efer));
  }

  get pkru(): number {
    return this.regs.pkru;
  }
  /** WRPKRU. */
  set pkru(v: number) {
    this.regs = { ...this.regs, pkru: U32(v, "PKRU") };
    this.core.x.writePkru(v);
  }

  get pkrs(): number {
    return this.regs.pkrs;
  }
  /** WRMSR IA32_PKRS. */
  set pkrs(v: number) {
    this.regs = { ...this.regs, pkrs: U32(v, "IA32_PKRS") };
    this.core.x.writePkrs(v);
  }

  get maxPhyAddr(): number {
    return this.regs.maxPhyAddr;
  }
  /** The physical-address width (36..52). Refused while frames exist at or above the new limit. */
  set maxPhyAddr(n: number) {
    checkMaxPhyAddr(n, this.core.x.highestBackedPfnPlusOne());
    const next = { ...this.regs, maxPhyAddr: n };
    this.checkMode(next);
    this.regs = next;
    this.core.x.setMaxPhyAddr(n);
  }

  // ---- TLB management ----

  /** INVLPG: invalidates the translation of the page containing `va` (any page size). */
  invlpg(va: Address): void {
    const v = toU64(va);
    this.core.x.invlpg(lo32(v), hi32(v));
  }

  /**
   * INVPCID: type 0 individual address (non-global entries of `pcid` for
   * `va`), 1 single context (non-global entries of `pcid`), 2 all contexts
   * including global entries, 3 all contexts except global entries.
   */
  invpcid(type: 0 | 1 | 2 | 3, pcid = 0, va: Address = 0n): void {
    if (type !== 0 && type !== 1 && type !== 2 && type !== 3) throw new ArgumentError(`INVPCID type ${show(type)} is not 0, 1, 2 or 3`);
    if (!Number.isInteger(pcid) || pcid < 0 || pcid > 0xfff) throw new ArgumentError(`PCID ${show(pcid)} is not in 0..4095`);
    const v = toU64(va);
    if (!this.core.x.invpcid(type, pcid, lo32(v), hi32(v))) throw new ArgumentError(`INVPCID type ${show(type)} is not 0, 1, 2 or 3`);
  }

  // ---- Nested paging (AMD SVM NPT, APM 15.25) ----

  /**
   * VMRUN's nested-paging part: from now on the registers are the guest's,
   * every guest-physical address (CR3, each guest table entry's, the final
   * one) goes through the host's 4-level tables at `ncr3`, and translations
   * are tagged with `asid`. `tlbControl` is the VMCB's TLB_CONTROL: 0 keep
   * (the default), 1 flush every ASID, 3 flush this ASID, 7 flush this
   * ASID's non-global entries. Faults of the nested walk throw
   * NestedPageFault. Refused (RegisterError) for a 32-bit or PAE guest.
   */
  enterGuest(state: NestedState, tlbControl: 0 | 1 | 3 | 7 = 0): void {
    if (typeof state !== "object" || state === null) throw new ArgumentError("enterGuest needs { ncr3, nxe?, asid? }");
    const ncr3 = toU64(state.ncr3, "nCR3");
    const nxe = state.nxe ?? true;
    const asid = state.asid ?? 1;
    if (typeof nxe !== "boolean") throw new ArgumentError(`nested nxe ${show(nxe)} is not a boolean`);
    if (!Number.isInteger(asid) || asid < 1 || asid >= NASID) throw new RegisterError(`ASID ${show(asid)} is not in 1..${NASID - 1} (x86mmu reports NASID = ${NASID}; ASID 0 is the host's)`);
    if (![0, 1, 3, 7].includes(tlbControl)) throw new ArgumentError(`TLB_CONTROL ${show(tlbControl)} is not 0, 1, 3 or 7`);
    const phys = (1n << BigInt(this.regs.maxPhyAddr)) - 1n;
    if ((ncr3 & ~phys) !== 0n) throw new RegisterError(`nCR3 ${hex(ncr3)} sets bits at or above MAXPHYADDR (${this.regs.maxPhyAddr})`);
    checkNestedGuest(this.regs);
    this.core.x.vmrun(1, lo32(ncr3), hi32(ncr3), nxe ? 1 : 0, asid, tlbControl);
    this.nestedState = { ncr3, nxe, asid };
  }

  /** #VMEXIT's nested-paging part: back to the host (no nested walk, ASID 0). Guest TLB entries stay, tagged with their ASID. */
  exitGuest(): void {
    if (!this.nestedState) return;
    this.core.x.vmrun(0, 0, 0, this.nestedState.nxe ? 1 : 0, 0, 0);
    this.nestedState = undefined;
  }

  /** The nested-paging state while a guest runs (enterGuest), else undefined. */
  get nested(): Readonly<Required<NestedState>> | undefined {
    return this.nestedState ? { ...this.nestedState } : undefined;
  }

  /** INVLPGA: invalidates the translations of the page containing `va` tagged with `asid` (global ones too). */
  invlpga(va: Address, asid: number): void {
    if (!Number.isInteger(asid) || asid < 0 || asid >= NASID) throw new ArgumentError(`ASID ${show(asid)} is not in 0..${NASID - 1}`);
    const v = toU64(va);
    this.core.x.invlpga(lo32(v), hi32(v), asid);
  }

  // ---- Looking at the TLB ----

  /**
   * Counters since the Mmu was made or resetTlbStats(): `hits` translations
   * served by the TLB, `misses` lookups that walked, `walks` walks started
   * (misses and probes), `entriesRead` paging-structure entries read (nested
   * ones included; a walk the fast path hands to the full walk reads its
   * entries twice, and both reads count), `pscHits` walks that started from
   * the PDE cache and read one entry.
   */
  tlbStats(): TlbStats {
    const dv = this.core.view();
    const p = this.core.x.statsPtr() >>> 0;
    const at = (i: number) => Number(dv.getBigUint64(p + 8 * i, true));
    return { hits: at(0), misses: at(1), walks: at(2), entriesRead: at(3), pscHits: at(4) };
  }

  resetTlbStats(): void {
    this.core.x.statsReset();
  }

  /**
   * The valid TLB entries, each a cached translation of one 4 KiB linear
   * page: its tags (PCID, and the ASID under nested paging), the frame, the
   * size of the page it is part of, whether it is global, and the access
   * kinds it serves without a walk (a write only once the page is dirty).
   */
  tlbEntries(): TlbEntry[] {
    const dv = this.core.view();
    const base = this.core.x.tlbPtr() >>> 0;
    const n = this.core.x.tlbEntries();
    const out: TlbEntry[] = [];
    for (let i = 0; i < n; i++) {
      const e = base + 32 * i;
      const allow = dv.getUint16(e + 20, true);
      if (allow === 0) continue;
      const tag = dv.getBigUint64(e, true);
      // The ASID is XORed into bits 63:57, which a canonical address fills with copies of bit 56.
      const sign = (tag >> 56n) & 1n ? 0x7fn : 0n;
      const asid = Number(((tag >> 57n) ^ sign) & 0x7fn);
      const page = (tag & ~0xfffn & ((1n << 57n) - 1n)) | (sign << 57n);
      const kinds = (op: number) => [0, 8, 4].filter((k) => (allow >> (k | op)) & 1).map((k) => (k & 4 ? "cpl3" : k & 8 ? "cpl0+ac" : "cpl0"));
      out.push({
        slot: i,
        linear: page,
        pcid: Number(tag & 0xfffn),
        asid,
        frame: dv.getBigUint64(e + 8, true),
        pageSize: 1n << BigInt(dv.getUint8(e + 28)),
        global: (dv.getUint8(e + 23) & 1) !== 0,
        device: (dv.getUint8(e + 23) & 2) !== 0,
        read: kinds(0),
        write: kinds(1),
        fetch: kinds(2),
      });
    }
    return out;
  }

  /** Invalidates every TLB entry, global ones included. */
  flushTlb(): void {
    this.core.x.flushTlb();
  }

  // ---- Translation ----

  private acc(access: AccessArg): number {
    return typeof access === "number" ? checkAccess(access) : encodeAccess(access);
  }

  /** The fault the last failing fast-path call reported. */
  lastFault(): Fault {
    return this.core.fault();
  }

  /**
   * After a failed call (its fault given, or in the mailbox): returns when a
   * fault handler fixed the fault up (the caller retries), else throws the
   * fault (or OutOfMemoryError).
   */
  private recover(tries: number, va: bigint, acc: number, fault?: Fault): void {
    if (!fault) {
      if (this.core.mbU32(MB_STATUS) === STATUS_NO_MEMORY) throw new OutOfMemoryError("storage for a written frame");
      fault = this.lastFault();
    }
    if (!this.faultHandlers.any || tries >= MAX_FAULT_RETRIES) throw fault;
    if (!this.faultHandlers.retry(fault, va, acc)) throw fault;
  }

  /** Performs an access that reached a device or hooked page, through the bus. */
  private special(v: bigint, acc: number, value?: bigint): bigint {
    const size = (acc >> ACCESS_SIZE_SHIFT) & 15 || 1;
    const one = withSize(acc, 1);
    const pa = bigOfNumber(this.xTranslate(lo32(v), hi32(v), one));
    const first = Math.min(size, PAGE_SIZE - Number(v & 0xfffn));
    const pieces = [{ pa, len: first }];
    if (first < size) {
      const next = (v & ~0xfffn) + 0x1000n;
      pieces.push({ pa: bigOfNumber(this.xTranslate(lo32(next), hi32(next), one)), len: size - first });
    }
    const op = opOf(acc);
    return this.bus.access(op, v, pieces, (acc & ACCESS_USER) !== 0 ? 3 : 0, value);
  }

  /**
   * Translates `va` for `access` as the processor does (TLB, then a walk that
   * sets accessed/dirty flags): the physical address of the first byte. An
   * access of several bytes that crosses a page translates both pages.
   * Throws PageFault or GeneralProtection.
   */
  translate(va: Address, access: AccessArg = READ): bigint {
    // The halves without a bigint round trip (a number stays a number).
    let lo: number, hi: number;
    if (typeof va === "number") {
      checkNumber(va);
      lo = va >>> 0;
      hi = hiOfNumber(va);
    } else {
      const v = toU64(va);
      lo = lo32(v);
      hi = hi32(v);
    }
    const acc = this.acc(access);
    for (let tries = 0; ; tries++) {
      const pa = this.xTranslate(lo, hi, acc);
      if (pa >= 0) return bigOfNumber(pa);
      this.recover(tries, join64(lo, hi), acc);
    }
  }

  /** Like translate, but returns the fault instead of throwing it, and the page's level. */
  tryTranslate(va: Address, access: AccessArg = READ): Translation {
    const v = toU64(va);
    const pa = this.core.x.translate(lo32(v), hi32(v), this.acc(access));
    if (pa < 0) return { ok: false, fault: this.lastFault() };
    return { ok: true, pa: bigOfNumber(pa), level: this.core.x.tlbLevel(lo32(v), hi32(v)) || 1 };
  }

  /** The number fast path: `va` a safe integer, `access` from encodeAccess; returns -1 on a fault (see lastFault()). */
  translateNumber(va: number, access: number): number {
    // Below 4 GiB (the common case) one comparison checks the address and gives its halves.
    const hi = typeof va === "number" && (va >>> 0) === va ? 0 : (checkNumber(va), hiOfNumber(va));
    checkAccess(access);
    const pa = this.xTranslate(va >>> 0, hi, access);
    return pa >= 0 || !this.faultHandlers.any ? pa : this.numberSlow(va, access, () => this.xTranslate(va >>> 0, hiOfNumber(va), access));
  }

  /** A number fast path failed and fault handlers exist: let them fix it up and retry; -1 if the fault stays. */
  private numberSlow(va: number, acc: number, attempt: () => number, ok = (r: number) => r >= 0): number {
    for (let tries = 0; tries < MAX_FAULT_RETRIES; tries++) {
      if (this.core.mbU32(MB_STATUS) === STATUS_NO_MEMORY) return -1;
      const fault = this.lastFault();
      if (!this.faultHandlers.retry(fault, BigInt(va), acc)) return -1;
      const r = attempt();
      if (ok(r)) return r;
    }
    return -1;
  }

  /**
   * Translates like the processor but sets no accessed or dirty flag and
   * neither uses nor fills the TLB: for debuggers and tools.
   */
  probe(va: Address, access: AccessArg = { op: "read" }): Probe {
    const v = toU64(va);
    const r = this.core.x.probe(lo32(v), hi32(v), this.acc(access));
    if (r !== 0) return { ok: false, fault: this.lastFault() };
    const level = this.core.mbU32(MB_LEVEL);
    const rights = this.core.mbU32(MB_RIGHTS);
    const x = this.core.x;
    // 32-bit paging's PDE maps 4 MiB; every other level n maps 2^(12 + 9(n-1)) bytes.
    const shift = this.pagingMode === "32-bit" && level === 2 ? 22 : PAGE_SHIFT + 9 * (level - 1);
    const out: Probe = {
      ok: true,
      pa: this.core.mbU64(MB_PA) | (v & 0xfffn),
      level,
      pageSize: 1n << BigInt(shift),
      user: (rights & 1) !== 0,
      writable: (rights & 2) !== 0,
      noExecute: (rights & 4) !== 0,
      pkey: (rights >> 4) & 15,
      leaf: this.core.mbU64(MB_LEAF),
    };
    if (this.nestedState) {
      out.guestPhysical = join64(x.probeGuestFrameLo(), x.probeGuestFrameHi()) | (v & 0xfffn);
      out.nestedLeaf = join64(x.probeNestedLeafLo(), x.probeNestedLeafHi());
    }
    return out;
  }

  /**
   * Translates many addresses in one call. Each output word is the physical
   * address, or a fault word (bit 63 set; see `decodeBatchFault`).
   */
  translateBatch(vas: BigUint64Array, access: AccessArg = { op: "read" }): BigUint64Array {
    if (!(vas instanceof BigUint64Array)) throw new ArgumentError("translateBatch needs a BigUint64Array of linear addresses");
    if (vas.length === 0) return new BigUint64Array(0);
    // One batch kept and grown (no callback runs in a translation, so it is never in use twice).
    if (!this.translateBuf || this.translateBuf.capacity < vas.length) this.translateBuf = this.batch(Math.max(vas.length, Math.min(1 << 24, 2 * (this.translateBuf?.capacity ?? 0))));
    const batch = this.translateBuf;
    batch.input.set(vas);
    batch.translate(vas.length, access);
    return batch.output.slice(0, vas.length);
  }
  private translateBuf: Batch | undefined;

  /** A batch buffer in linear memory, for translate/load/store loops without copies. */
  batch(capacity: number): Batch {
    return new Batch(this.core, capacity, (a) => this.acc(a), (v, acc, value) => this.special(v, acc, value));
  }

  // ---- Translated reads and writes ----

  /** Reads `size` bytes at linear `va` (little-endian); throws PageFault / GeneralProtection. */
  read(va: Address, size: AccessSize = 8, options?: AccessOptions): bigint {
    return this.load(toU64(va), encodeWith("read", size, options));
  }

  private load(v: bigint, acc: number): bigint {
    for (let tries = 0; ; tries++) {
      const lo = this.xLoad(lo32(v), hi32(v), acc);
      if (lo >= 0) return ((acc >> ACCESS_SIZE_SHIFT) & 15) === 8 ? join64(lo, this.core.mbU32(MB_VALUE_HI)) : BigInt(lo);
      if (this.core.mbU32(MB_STATUS) === STATUS_SPECIAL) return this.special(v, acc);
      this.recover(tries, v, acc);
    }
  }

  /** Writes the low `size` bytes of `value` at linear `va`; throws on a fault, writing nothing. */
  write(va: Address, size: AccessSize, value: bigint | number, options?: AccessOptions): void {
    const v = toU64(va);
    const acc = encodeWith("write", size, options);
    const val = toSized(value, size);
    for (let tries = 0; ; tries++) {
      const s = this.xStore(lo32(v), hi32(v), acc, lo32(val), hi32(val));
      if (s === 0) return;
      if (s === STATUS_SPECIAL) {
        this.special(v, acc, val);
        return;
      }
      this.recover(tries, v, acc);
    }
  }

  /** Fetches one instruction byte at `va`. */
  fetch(va: Address, options?: AccessOptions): number {
    return Number(this.load(toU64(va), encodeWith("fetch", 1, options)));
  }

  /**
   * The number fast path for loads of 1, 2 or 4 bytes: `va` a safe integer,
   * `access` from encodeAccess (its size is used). Returns the value, or -1
   * on a fault (see lastFault()).
   */
  loadNumber(va: number, access: number): number {
    const hi = typeof va === "number" && (va >>> 0) === va ? 0 : (checkNumber(va), hiOfNumber(va));
    checkLoadNumber(access);
    const r = this.xLoad(va >>> 0, hi, access);
    return r >= 0 ? r : this.loadNumberSlow(va, access);
  }

  private loadNumberSlow(va: number, access: number): number {
    const attempt = (): number => {
      const r = this.xLoad(va >>> 0, hiOfNumber(va), access);
      return r >= 0 || this.core.mbU32(MB_STATUS) !== STATUS_SPECIAL ? r : Number(this.special(BigInt(va), access));
    };
    if (this.core.mbU32(MB_STATUS) === STATUS_SPECIAL) return Number(this.special(BigInt(va), access));
    return !this.faultHandlers.any ? -1 : this.numberSlow(va, access, attempt);
  }

  /** The number fast path for stores of 1, 2 or 4 bytes; returns 0, or a nonzero status on a fault (see lastFault()). */
  storeNumber(va: number, access: number, value: number): number {
    const hi = typeof va === "number" && (va >>> 0) === va ? 0 : (checkNumber(va), hiOfNumber(va));
    const size = checkStoreNumber(access);
    // A table, not `2 ** (8 * size)`: V8 takes a slow path for `**` with a variable exponent (~100 ns).
    if (!(typeof value === "number" && value >= 0 && value < STORE_LIMIT[size]! && Number.isInteger(value))) {
      throw new ArgumentError(`storeNumber stores 1, 2 or 4 bytes of a value that fits them (size ${size}, value ${show(value)}); use write() for 8`);
    }
    const s = this.xStore(va >>> 0, hi, access, value, 0);
    return s === 0 ? 0 : this.storeNumberSlow(va, access, value);
  }

  private storeNumberSlow(va: number, access: number, value: number): number {
    const attempt = (): number => {
      const s = this.xStore(va >>> 0, hiOfNumber(va), access, value, 0);
      if (s === STATUS_SPECIAL) this.special(BigInt(va), access, BigInt(value));
      return s === STATUS_SPECIAL ? 0 : s;
    };
    if (this.core.mbU32(MB_STATUS) === STATUS_SPECIAL) {
      this.special(BigInt(va), access, BigInt(value));
      return 0;
    }
    if (!this.faultHandlers.any) return this.core.mbU32(MB_STATUS);
    const r = this.numberSlow(va, access, attempt, (x) => x === 0);
    return r === 0 ? 0 : this.core.mbU32(MB_STATUS);
  }

  /**
   * Copies `len` bytes from linear `va`. Every page is translated (for a read
   * with `options`) before any byte is copied; a fault throws and copies nothing.
   */
  readBytes(va: Address, len: number, options: AccessOptions = {}): Uint8Array {
    const out = new Uint8Array(this.checkLen(len));
    const acc = encodeWith("read", 1, options);
    if (len > 0) spaceToHost(this.translateAll(toU64(va), len, acc, 0), len, out, 0);
    return out;
  }

  /**
   * Reads `target.length` bytes at linear `va` into `target` (the caller's
   * buffer, or a subarray of it): readBytes without allocating the result,
   * the form an emulator's hot loop wants. Every page is translated before
   * any byte is copied: a fault throws with `target` unchanged (a device
   * callback that throws leaves the pieces before it copied).
   */
  readInto(va: Address, target: Uint8Array, options: AccessOptions = {}): void {
    const len = this.checkLen(bytesOf(target, "readInto's target").length);
    const acc = encodeWith("read", 1, options);
    if (len > 0) spaceToHost(this.translateAll(toU64(va), len, acc, 0), len, target, 0);
  }

  /** Writes all of `source` at linear `va`: writeBytes, named as readInto's counterpart (neither allocates). */
  writeFrom(va: Address, source: Uint8Array, options: AccessOptions = {}): void {
    this.writeBytes(va, source, options);
  }

  /**
   * Copies `data` to linear `va`. Every page is translated for a write (and
   * given storage) before any byte is written: a fault or exhausted memory
   * throws with no byte written.
   */
  writeBytes(va: Address, data: Uint8Array, options: AccessOptions = {}): void {
    const acc = encodeWith("write", 1, options);
    const v = toU64(va);
    if (this.checkLen(bytesOf(data).length) === 0) return;
    hostToSpace(data, 0, data.length, this.translateAll(v, data.length, acc, 1));
  }

  private checkLen(len: number): number {
    if (!Number.isSafeInteger(len) || len < 0 || len > MAX_RANGE) throw new ArgumentError(`length ${show(len)} is not an integer in 0..2^32-1`);
    return len;
  }

  /** The whole range translated by the copy engine (copy.ts) for `acc`, or its fault thrown (after fault handlers). */
  private translateAll(v: bigint, len: number, acc: number, side: 0 | 1): Translated {
    if (v + BigInt(len) > 1n << 64n) throw new ArgumentError(`range ${hex(v)}+${hex(BigInt(len))} wraps past 2^64`);
    const translator = translatorsOf(this.core)[side];
    for (let tries = 0; ; tries++) {
      const t = translator.translate(v, len, acc);
      if (!t.fault) return t;
      this.recover(tries, v, acc, t.fault);
    }
  }

  // ---- Devices, hooks, faults (bus.ts) ----

  /**
   * Puts a device at physical [start, start + length): every access there,
   * from any path (translated loads and stores, copies, the physical API,
   * scenario runs), calls `device.read` / `device.write` with the physical
   * address and a size of 1, 2, 4 or 8. RAM accesses keep their fast path.
   * Refused (MappingError) over RAM that holds data or over another device.
   */
  mapDevice(start: Address, length: Address, device: Device): Handle {
    return this.bus.mapDevice(start, length, device);
  }

  /**
   * Declares the RAM ranges: other physical addresses (not a device) read as
   * zero and ignore writes, or, with `unmapped: "fault"`, throw
   * UnmappedPhysicalError. `undefined` makes all of physical memory RAM again.
   */
  setPhysicalLayout(layout: Parameters<Bus["setLayout"]>[0]): void {
    this.bus.setLayout(layout);
  }

  /**
   * Calls `before`/`after` around every read, write or fetch that touches a
   * linear or physical range: once per access, with its whole range, even
   * when it crosses a page. Pages without hooks keep their fast path.
   */
  addHook(spec: HookSpec): Handle {
    return this.bus.addHook(spec);
  }

  /** Calls `handler` on page faults and #GP; it may fix the cause up and return "retry". */
  onFault(handler: FaultHandler): Handle {
    return this.faultHandlers.add(handler);
  }

  // ---- Snapshots (snapshot.ts) ----

  /**
   * Takes a snapshot of the registers and physical memory. Memory is saved
   * copy-on-write from now on: restoring costs time in proportion to the
   * frames written since, and the snapshot's memory cost is the frames saved.
   */
  snapshot(): Snapshot<SavedRegisters> {
    return this.snapshots.take(this.savedRegisters());
  }

  /** @internal Every register as a snapshot keeps it (for a machine that switches CPUs, src/machine). */
  savedRegisters(): SavedRegisters {
    return { ...this.state, pdptes: this.pdptes, nested: this.nested };
  }

  /**
   * Restores a snapshot of this Mmu: physical memory and registers as they
   * were, the TLB flushed. Snapshots taken after it end. Throws
   * SnapshotError for a snapshot of another Mmu or one that has ended.
   * All or nothing: every check comes first, and a refused restore changes
   * nothing (the registers are put back as saved, PDPTE registers included,
   * whatever MAXPHYADDR or memory's PDPT say now).
   */
  restore(snapshot: Snapshot<SavedRegisters>): void {
    // Everything is checked before anything changes (Snapshots.restore).
    const regs = this.snapshots.restore(snapshot, (r) => {
      checkRegisters(r);
      if (r.nested) checkNestedGuest(r);
    });
    // Memory is now as it was when the snapshot was taken, so the saved
    // registers fit it: they go back as they were, without the checks and the
    // PDPTE load of a MOV (memory need not hold the PDPT the saved PDPTE
    // registers came from).
    this.putRegisters(regs);
  }

  /**
   * @internal Puts saved registers back as they were, without the checks and
   * the PDPTE load of a MOV, and flushes the TLB (restore, and a machine
   * switching CPUs: src/machine).
   */
  putRegisters(regs: SavedRegisters): void {
    this.exitGuest();
    const x = this.core.x;
    x.setMaxPhyAddr(regs.maxPhyAddr);
    x.writePkru(regs.pkru);
    x.writePkrs(regs.pkrs);
    x.restoreRegisters(lo32(regs.cr0), hi32(regs.cr0), lo32(regs.cr3), hi32(regs.cr3), lo32(regs.cr4), hi32(regs.cr4), lo32(regs.efer), hi32(regs.efer));
    regs.pdptes.forEach((v, i) => x.setPdpte(i, lo32(v), hi32(v)));
    this.regs = { cr0: regs.cr0, cr3: regs.cr3, cr4: regs.cr4, efer: regs.efer, pkru: regs.pkru, pkrs: regs.pkrs, maxPhyAddr: regs.maxPhyAddr };
    if (regs.nested) {
      const { ncr3, nxe, asid } = regs.nested;
      x.vmrun(1, lo32(ncr3), hi32(ncr3), nxe ? 1 : 0, asid, 1);
      this.nestedState = { ncr3, nxe, asid };
    }
  }

  // ---- Page tables ----

  /**
   * A new, empty page-table tree (a zeroed root frame from the allocator),
   * with 4 levels, or 5 with `{ levels: 5 }` (or `{ mode: 4 | 5 }`); for the
   * legacy modes `{ mode: "32-bit" }` (a page directory) or `{ mode: "pae" }`
   * (a PDPT with its four page directories), see legacy-page-table.ts.
   */
  createPageTable(options: LegacyPageTableOptions): LegacyPageTable;
  createPageTable(options?: PageTableOptions & { mode?: 4 | 5 }): PageTable;
  createPageTable(options?: (PageTableOptions & { mode?: 4 | 5 }) | LegacyPageTableOptions): PageTable | LegacyPageTable {
    options = optionsOf(options, "page-table options");
    const mode = options.mode;
    if (mode === "32-bit" || mode === "pae") return LegacyPageTable.create(this.core, this.memory, mode);
    const levels = (options as PageTableOptions).levels;
    if (mode !== undefined && (mode !== 4 && mode !== 5 || (levels !== undefined && levels !== mode))) {
      throw new ArgumentError(`mode ${showName(mode)} is not "32-bit", "pae", 4 or 5${levels !== undefined ? ` agreeing with levels ${show(levels)}` : ""}`);
    }
    return PageTable.create(this.core, this.memory, { levels: mode ?? levels });
  }

  /**
   * The page-table tree CR3 points to, for inspection and changes: in the
   * format of the paging mode (with CR0.PG=0, of the mode setting CR0.PG
   * would select): a LegacyPageTable under 32-bit and PAE paging.
   */
  activePageTable(): PageTable | LegacyPageTable {
    const format = tableFormatOf(this.regs);
    if (format === "32-bit") return LegacyPageTable.at(this.core, this.memory, this.regs.cr3 & 0xfffff000n, format);
    if (format === "pae") return LegacyPageTable.at(this.core, this.memory, this.regs.cr3 & 0xffffffe0n, format);
    return PageTable.at(this.core, this.memory, this.regs.cr3 & 0x000ffffffffff000n, format === "5-level" ? 5 : 4);
  }

  // ---- Walk trace (for `run --trace` and `explain`) ----

  /** Records the levels of the next walks (up to two per access) until disabled; see takeTrace(). */
  setTrace(on: boolean): void {
    if (typeof on !== "boolean") throw new ArgumentError(`setTrace takes true or false, not ${show(on)}`);
    this.core.x.setTrace(on);
  }

  /** The levels recorded since the last call: level, index, table and entry value each. */
  takeTrace(): { level: number; index: number; table: bigint; entry: bigint }[] {
    const n = this.core.x.traceCount();
    const base = this.core.x.traceBufPtr() >>> 0;
    const dv = this.core.view();
    const out = [];
    for (let i = 0; i < n; i++) {
      const at = base + 24 * i;
      out.push({ level: dv.getUint32(at, true), index: dv.getUint32(at + 4, true), table: dv.getBigUint64(at + 8, true), entry: dv.getBigUint64(at + 16, true) });
    }
    // Under nested paging: the nested levels visited, each tagged with the guest step it served.
    const m = this.core.x.nestedTraceCount();
    const nbase = this.core.x.nestedTraceBufPtr() >>> 0;
    const nested = [];
    for (let i = 0; i < m; i++) {
      const at = nbase + 24 * i;
      const tag = dv.getUint16(at + 4, true);
      nested.push({
        level: dv.getUint32(at, true),
        guestStep: tag === 0xffff ? -1 : tag,
        index: dv.getUint16(at + 6, true),
        table: dv.getBigUint64(at + 8, true),
        entry: dv.getBigUint64(at + 16, true),
      });
    }
    this.nestedTrace = nested;
    this.core.x.traceReset();
    return out;
  }

  /**
   * The nested walks recorded with the last takeTrace() (nested paging):
   * each level with `guestStep`, the index in that trace of the guest entry
   * whose address it translated, or -1 for a final guest-physical address.
   */
  takeNestedTrace(): { level: number; guestStep: number; index: number; table: bigint; entry: bigint }[] {
    const t = this.nestedTrace;
    this.nestedTrace = [];
    return t;
  }
  private nestedTrace: { level: number; guestStep: number; index: number; table: bigint; entry: bigint }[] = [];
}



