/**
 * Loads the WebAssembly core (build/core.wasm, compiled from assembly/) with
 * @assemblyscript/loader and gives the host layer typed access to its exports
 * and to its linear memory. Each `Core` is its own instance: its own frame
 * store, registers and TLB.
 *
 * Linear memory grows as frames are touched, and a grown WebAssembly memory
 * replaces its ArrayBuffer, so views are taken through `u8()`/`view()`, which
 * re-create them after growth.
 */

import { instantiateSync } from "@assemblyscript/loader";
import { STATUS_GP, STATUS_NPF, MB_STATUS, MB_ERROR_CODE, MB_FAULT_ADDR, MB_EXITINFO1_HI, MB_PA } from "../arch/index.js";
import { PAGE_SIZE } from "../arch/index.js";
import { GeneralProtection, NestedPageFault, OutOfMemoryError, PageFault, X86MmuError, type Fault } from "../base/index.js";

/** The core's exports, as the host calls them (64-bit values as u32 halves). */
export interface CoreExports {
  memory: WebAssembly.Memory;
  /** Threads build: empties this CPU's TLB and caches (a no-op in the single-CPU build). */
  perCpuClear(): void;
  /** Threads build: this CPU takes the journal's state (dirty log) as another CPU left it; a no-op with one CPU. */
  journalSync(): void;
  dirtyRunning(): number;
  mailboxPtr(): number;
  traceBufPtr(): number;
  traceCount(): number;
  setTrace(on: boolean): void;
  traceReset(): void;
  framesList(out: number, max: number): number;
  /** These four return 0 on #GP (a reserved bit in a PDPTE loaded under PAE paging): nothing changed. */
  loadRegisters(c0lo: number, c0hi: number, c3lo: number, c3hi: number, c4lo: number, c4hi: number, eflo: number, efhi: number): number;
  movCr0(lo: number, hi: number): number;
  movCr3(lo: number, hi: number): number;
  movCr4(lo: number, hi: number): number;
  reloadPdptes(): number;
  statsPtr(): number;
  statsReset(): void;
  tlbPtr(): number;
  tlbEntries(): number;
  tlbConfigure(entries: number, ways: number): number;
  /** One TLB per CPU (src/machine): the bytes to save and swap back, and when a saved copy is stale. */
  tlbBytes(): number;
  pscPtr(): number;
  pscBytes(): number;
  cachesRestored(forgetHosts: number): void;
  sharedCacheEpoch(): number;
  vmrun(on: number, lo: number, hi: number, hostNxe: number, asid: number, tlbControl: number): number;
  invlpga(lo: number, hi: number, asid: number): void;
  nestedTraceCount(): number;
  nestedTraceBufPtr(): number;
  probeGuestFrameLo(): number;
  probeGuestFrameHi(): number;
  probeNestedLeafLo(): number;
  probeNestedLeafHi(): number;
  pdpteLo(i: number): number;
  pdpteHi(i: number): number;
  setPdpte(i: number, lo: number, hi: number): void;
  restoreRegisters(c0lo: number, c0hi: number, c3lo: number, c3hi: number, c4lo: number, c4hi: number, eflo: number, efhi: number): void;
  pagingMode(): number;
  writeEfer(lo: number, hi: number): void;
  writePkru(v: number): void;
  writePkrs(v: number): void;
  setMaxPhyAddr(n: number): void;
  invlpg(lo: number, hi: number): void;
  invpcid(type: number, pcid: number, lo: number, hi: number): number;
  flushTlb(): void;
  probe(lo: number, hi: number, acc: number): number;
  frameHost(lo: number, hi: number, alloc: boolean): number;
  framesInUse(): number;
  hostBytesInUse(): number;
  highestBackedPfnPlusOne(): number;
  memoryReset(): void;
  storageEpoch(): number;
  scratchAlloc(bytes: number): number;
  setAllocBase(lo: number, hi: number): void;
  allocFrame(): number;
  freeFrame(lo: number, hi: number): number;
  mapRange(rootLo: number, rootHi: number, levels: number, vaLo: number, vaHi: number, paLo: number, paHi: number, pages: number, level: number, flagsLo: number, flagsHi: number): number;
  mapFreshRange(rootLo: number, rootHi: number, levels: number, vaLo: number, vaHi: number, pages: number, flagsLo: number, flagsHi: number, out: number): number;
  unmapRange(rootLo: number, rootHi: number, levels: number, vaLo: number, vaHi: number, lenLo: number, lenHi: number): number;
  protectRange(rootLo: number, rootHi: number, levels: number, vaLo: number, vaHi: number, lenLo: number, lenHi: number, flagsLo: number, flagsHi: number): number;
  translate(lo: number, hi: number, acc: number): number;
  translateBatch(inPtr: number, outPtr: number, n: number, acc: number): number;
  translateStream(inPtr: number, outPtr: number, n: number, acc: number): number;
  loadLinear(lo: number, hi: number, acc: number): number;
  loadBatch(inPtr: number, outPtr: number, n: number, acc: number): number;
  storeLinear(lo: number, hi: number, acc: number, vlo: number, vhi: number): number;
  storeBatch(addrPtr: number, valPtr: number, n: number, acc: number): number;
  translateRange(lo: number, hi: number, len: number, acc: number, segPtr: number): number;
  /** Device or hooked segments the last translateRange wrote. */
  rangeSpecialCount(): number;
  physRange(lo: number, hi: number, len: number, write: boolean, segPtr: number): number;
  tlbLevel(lo: number, hi: number): number;
  hostCopy(dst: number, src: number, len: number): void;
  copySegments(src: number, nSrc: number, dst: number, nDst: number, len: number): number;
  dirtyStart(): void;
  dirtyStop(): void;
  dirtyClear(): void;
  dirtyCount(): number;
  dirtyList(out: number, max: number): number;
  snapshotTake(): number;
  snapshotCount(): number;
  snapshotFrames(k: number): number;
  snapshotRestore(k: number): number;
  snapshotDrop(k: number): number;
  snapshotsBroken(): number;
  specialSetRange(kind: number, i: number, sLo: number, sHi: number, eLo: number, eHi: number): number;
  specialCommit(kind: number, n: number): void;
  anyBacked(sLo: number, sHi: number, eLo: number, eHi: number): number;
  allocNextPfn(): number;
  freeListCount(): number;
  freeListRead(out: number, max: number): number;
  allocRestore(nextPfn: number, ptr: number, n: number): number;
  allocAvoid(ptr: number, n: number): number;
}

let compiled: WebAssembly.Module | undefined;
let locate: (() => WebAssembly.Module) | undefined;

/**
 * Tells the host layer where the compiled core comes from: src/node.ts reads
 * build/core.wasm from disk; a browser page compiles it from a fetch and
 * passes the module (see src/browser.ts).
 */
export function setCoreModule(source: WebAssembly.Module | (() => WebAssembly.Module)): void {
  if (source instanceof WebAssembly.Module) compiled = source;
  else {
    locate = source;
    compiled = undefined;
  }
}

function module(): WebAssembly.Module {
  if (!compiled) {
    if (!locate) throw new X86MmuError("CORE_NOT_LOADED", "x86mmu: the WebAssembly core is not loaded (import x86mmu's entry point, or call setCoreModule)");
    compiled = locate();
  }
  return compiled;
}

let threadsCompiled: WebAssembly.Module | undefined;
let threadsLocate: (() => WebAssembly.Module) | undefined;

/**
 * Where the threads build comes from (build/core.threads.wasm: one instance
 * per CPU over a shared memory, src/machine/shared-machine.ts); as
 * setCoreModule.
 */
export function setThreadsCoreModule(source: WebAssembly.Module | (() => WebAssembly.Module)): void {
  if (source instanceof WebAssembly.Module) threadsCompiled = source;
  else {
    threadsLocate = source;
    threadsCompiled = undefined;
  }
}

/** The threads build, compiled (structured-cloneable: a worker may be handed it). */
export function threadsModule(): WebAssembly.Module {
  if (!threadsCompiled) {
    if (!threadsLocate) throw new X86MmuError("CORE_NOT_LOADED", "x86mmu: the threads build of the core is not loaded (import x86mmu's entry point, or call setThreadsCoreModule / loadThreadsCore)");
    threadsCompiled = threadsLocate();
  }
  return threadsCompiled;
}

/** An instance of the threads build over a shared memory, as CPU `slot`. */
export interface CoreAttachment {
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly slot: number;
}

export class Core {
  readonly x: CoreExports;
  readonly mailbox: number;
  private buffer: ArrayBuffer | undefined;
  private u8view!: Uint8Array;
  private dv!: DataView;

  /**
   * One instance of the core: its own linear memory, which the engine
   * reserves in full (4 GiB plus guard regions, about 10 GiB of address
   * space, committed only as used) — so a process holds at most a few
   * thousand Mmus at once. Running out of address space is an
   * OutOfMemoryError, not a raw RangeError.
   */
  /** An instance of the threads build, over memory other instances share (one CPU of a SharedMachine). */
  readonly shared: boolean;

  constructor(attach?: CoreAttachment) {
    let exports: Record<string, unknown>;
    this.shared = attach !== undefined;
    try {
      const imports = attach ? { env: { memory: attach.memory, cpuSlot: new WebAssembly.Global({ value: "i32", mutable: false }, attach.slot) } } : {};
      ({ exports } = instantiateSync<Record<string, unknown>>(attach ? attach.module : module(), imports));
    } catch (e) {
      if (e instanceof RangeError || (e instanceof Error && /memory/i.test(e.message))) {
        throw new OutOfMemoryError(`a new Mmu's linear memory (${e.message})`, "each Mmu reserves about 10 GiB of address space: drop the Mmus no longer used");
      }
      throw e;
    }
    // The loader wraps every exported function to pass its argument count
    // (`(...args) => { setArgumentsLength(args.length); return f(...args) }`),
    // which only optional parameters need. The core has none (it would export
    // __setArgumentsLength), so the host calls the functions themselves.
    if (!("__setArgumentsLength" in exports)) {
      for (const [name, f] of Object.entries(exports)) {
        const original = typeof f === "function" ? (f as { original?: unknown }).original : undefined;
        if (typeof original === "function") exports[name] = original;
      }
    }
    if (attach) (exports as { memory?: WebAssembly.Memory }).memory = attach.memory;
    this.x = exports as unknown as CoreExports;
    this.mailbox = this.x.mailboxPtr() >>> 0;
  }

  /**
   * Throws for what one CPU of a SharedMachine may not do: devices, hooks
   * and the physical layout (their callbacks live in one thread), the dirty
   * log and memory reset (every CPU's writes would have to be journaled),
   * and the Mmu's own snapshots (SharedCpu.snapshot takes one while the
   * other CPUs are paused).
   */
  refuseShared(what: string): void {
    if (this.shared) throw new X86MmuError("SHARED_MEMORY_UNSUPPORTED", `${what} is not available with several CPUs over shared memory (SharedMachine): devices, hooks, the physical layout and memory reset need a single-CPU Mmu or the worker-free Machine; for a snapshot, make the machine { pausable: true } and use cpu.pauseOthers() and cpu.snapshot()`);
  }

  /**
   * With several CPUs (SharedMachine), set by the CPU: whether it has the
   * other CPUs paused, which starting, stopping or clearing the dirty log
   * needs (every CPU must note writes alike).
   */
  sharedPausing: (() => boolean) | undefined;
  /** Set when the journal changed while paused: the other CPUs must take its new state (SharedCpu.resumeOthers). */
  journalChanged = false;

  /** A change to the journal (the dirty log): with several CPUs, only while this CPU has the others paused. */
  journalChange(what: string): void {
    if (!this.shared) return;
    if (!this.sharedPausing?.()) {
      throw new X86MmuError("NOT_PAUSED", `${what} on a CPU of a SharedMachine needs the other CPUs paused (a machine made { pausable: true }, cpu.pauseOthers()), so that every CPU notes its writes alike`);
    }
    this.journalChanged = true;
  }

  private refresh(): void {
    const buf = this.x.memory.buffer;
    if (buf !== this.buffer) {
      this.buffer = buf;
      this.u8view = new Uint8Array(buf);
      this.dv = new DataView(buf);
    }
  }

  /** All of linear memory as bytes (re-taken after growth). */
  u8(): Uint8Array {
    this.refresh();
    return this.u8view;
  }

  /** All of linear memory as a DataView (re-taken after growth). */
  view(): DataView {
    this.refresh();
    return this.dv;
  }

  mbU32(offset: number): number {
    return this.view().getUint32(this.mailbox + offset, true);
  }

  mbU64(offset: number): bigint {
    return this.view().getBigUint64(this.mailbox + offset, true);
  }

  /** The fault the last failing call left in the mailbox: #GP, or #PF with its error code and CR2. */
  fault(): Fault {
    const addr = this.mbU64(MB_FAULT_ADDR);
    if (this.mbU32(MB_STATUS) === STATUS_GP) return new GeneralProtection(addr);
    if (this.mbU32(MB_STATUS) === STATUS_NPF) {
      return new NestedPageFault((BigInt(this.mbU32(MB_EXITINFO1_HI)) << 32n) | BigInt(this.mbU32(MB_ERROR_CODE)), addr, this.mbU64(MB_PA));
    }
    return new PageFault(this.mbU32(MB_ERROR_CODE), addr);
  }
}

/**
 * A buffer in the core's linear memory for passing arrays to and from it
 * (segments, frame lists, journals). It grows, at least doubling, and is
 * reused between calls; linear memory is never given back, so each user keeps
 * one.
 */
export class ScratchBuffer {
  private ptr = 0;
  private bytes = 0;
  constructor(
    private readonly core: Core,
    private readonly what: string,
  ) {}

  /** The buffer's offset in linear memory, holding at least `bytes`. */
  reserve(bytes: number): number {
    if (bytes > this.bytes) {
      const want = Math.ceil(Math.max(bytes, 2 * this.bytes, PAGE_SIZE) / PAGE_SIZE) * PAGE_SIZE;
      const p = this.core.x.scratchAlloc(want) >>> 0;
      if (p === 0) throw new OutOfMemoryError(`a buffer of ${want} bytes for ${this.what}`);
      this.ptr = p;
      this.bytes = want;
    }
    return this.ptr;
  }
}
