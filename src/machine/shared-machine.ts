/**
 * Several CPUs over one physical memory, on real threads (issue 15): the
 * frame store lives in a shared WebAssembly.Memory, and each CPU is its own
 * instance of the core's threads build (build/core.threads.wasm), in any
 * thread — the main one or a worker (Node worker_threads, Web Workers) that
 * was handed the machine's `handle`.
 *
 * What each CPU owns: registers, TLB, PDE cache, frame cache, rights table,
 * last fault (its slot of the core's per-CPU zone, assembly/percpu.ts). What
 * they share: physical memory, the frame allocator, the page-table builder's
 * frame allocator (one lock in the core, assembly/lock.ts), and a control
 * block with one shootdown inbox per CPU (below). A walk sets A and D with
 * an atomic OR (assembly/flags.ts), so no CPU loses another's flag.
 *
 * TLB coherence is the OS's job, as on hardware (SDM 4.10.5): a CPU that
 * changes a page table invalidates its own TLB, and posts a shootdown to the
 * others; each target performs it at its next call into its `mmu`, or at
 * `poll()`, and acknowledges; the poster may wait for every acknowledgement.
 * Until then the target keeps using what its TLB holds.
 *
 * Pausing (for snapshots): one CPU pauses the others (`pauseOthers`); each
 * stops at its next safe point, the start of its next outermost call, and
 * waits there until `resumeOthers`; the pausing CPU waits until no other CPU
 * is inside a call. While paused it may take and restore a snapshot of
 * memory (`snapshot`, `restore`), which the others see after resuming, their
 * TLBs flushed.
 *
 * Control block (Int32Array over a SharedArrayBuffer):
 *
 *     [0] magic  [1] cpus  [2] pausing CPU + 1 (0: running)  [3] the pausing thread's token  [4] pausable
 *     per CPU i at INBOX0 + i * INBOX_INTS:
 *       +0 attached (0/1)  +1 inbox lock  +2 posted (count of posts)  +3 done (posted count performed)
 *       +4 records queued  +5 flush everything (the inbox overflowed)  +6 call depth (0: at a safe point)
 *       +8 records, RECORDS x [code, pcid, va lo, va hi]
 *         code: 0 INVLPG, 1..4 INVPCID type 0..3, 5 flush everything, 6 take the journal's
 *         new state (the dirty log was started, stopped or cleared while this CPU was paused)
 */

import { ArgumentError, OutOfMemoryError, X86MmuError, show, toU64 } from "../base/index.js";
import { MAX_SHARED_CPUS, THREADS_INITIAL_PAGES, THREADS_MAXIMUM_PAGES } from "../arch/index.js";
import { threadsModule, ScratchBuffer } from "../core/index.js";
import { Mmu, type CpuState, type TlbGeometry } from "../mmu/index.js";
import { checkInvalidation, perform, type Invalidation } from "./invalidation.js";
import { onCpu } from "./on-cpu.js";

const MAGIC = 0x78383673; // "x86s"
const RECORDS = 32;
const INBOX0 = 16;
const INBOX_INTS = 8 + RECORDS * 4;
const ATTACHED = 0;
const LOCK = 1;
const POSTED = 2;
const DONE = 3;
const COUNT = 4;
const FLUSH = 5;
const REC = 8;
const DEPTH = 6;
const PAUSER = 2;
const PAUSER_THREAD = 3;
const PAUSABLE = 4;
/** This JavaScript thread (realm), as the control block names the one that paused the machine. */
const THREAD = ((Math.random() * 0x7ffffffe) | 0) + 1;

/** A snapshot of a SharedMachine's memory, taken while its other CPUs were paused. */
export interface SharedSnapshot {
  /** Every frame that held data, with its bytes. */
  readonly frames: ReadonlyMap<bigint, Uint8Array>;
  /** The page-table builder's frame allocator: next frame and free list. */
  readonly allocator: { readonly nextPfn: number; readonly free: BigUint64Array };
  /** @internal Which machine it belongs to. */
  readonly control: SharedArrayBuffer;
}

/** What a worker needs to attach CPUs of a machine: post it to the worker as is (it is structured-cloneable). */
export interface SharedMachineHandle {
  /** Physical memory (and the core's shared structures): a shared WebAssembly.Memory. */
  readonly memory: WebAssembly.Memory;
  /** The shootdown inboxes and which CPUs are attached. */
  readonly control: SharedArrayBuffer;
  /** The core's threads build, compiled once. */
  readonly module: WebAssembly.Module;
  /** How many CPUs the machine has (indexes 0..cpus-1). */
  readonly cpus: number;
}

export interface SharedMachineOptions {
  /** How many CPUs (1..MAX_SHARED_CPUS). */
  cpus: number;
  /**
   * Whether one CPU may pause the others (`pauseOthers`, for snapshots).
   * It costs every call through a CPU's `mmu` one atomic add and a
   * try/finally (a call must announce itself before it looks for a pause):
   * a `translateNumber` loop on a CPU took 100-120 ns a call with it and
   * 42-57 ns without, on the benchmarks' machine; a batch call pays it once
   * for all its addresses. Default false.
   */
  pausable?: boolean;
}

export interface AttachOptions {
  /** The CPU's registers at the start (as `new Mmu(state)`). */
  state?: Partial<CpuState>;
  /** Its TLB geometry (as `new Mmu({ tlb })`). */
  tlb?: TlbGeometry;
}

/** The machine's memory and control block, made in one thread; CPUs attach to it from any thread. */
export class SharedMachine {
  readonly handle: SharedMachineHandle;

  constructor(options: SharedMachineOptions) {
    if (typeof options !== "object" || options === null) throw new ArgumentError(`SharedMachine needs { cpus }, not ${show(options)}`);
    const { cpus, pausable } = options;
    if (!Number.isInteger(cpus) || cpus < 1 || cpus > MAX_SHARED_CPUS) throw new ArgumentError(`cpus is an integer in 1..${MAX_SHARED_CPUS}, not ${show(cpus)}`);
    if (pausable !== undefined && typeof pausable !== "boolean") throw new ArgumentError(`pausable is true or false, not ${show(pausable)}`);
    if (typeof SharedArrayBuffer === "undefined") {
      throw new X86MmuError("NO_SHARED_MEMORY", "SharedArrayBuffer is not available: in a browser the page must be cross-origin isolated (COOP: same-origin, COEP: require-corp); the worker-free Machine needs neither");
    }
    const module = threadsModule();
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: THREADS_INITIAL_PAGES, maximum: THREADS_MAXIMUM_PAGES, shared: true });
    } catch (e) {
      throw new X86MmuError("NO_SHARED_MEMORY", `a shared WebAssembly.Memory could not be made (${(e as Error).message})`);
    }
    const control = new SharedArrayBuffer((INBOX0 + cpus * INBOX_INTS) * 4);
    const c = new Int32Array(control);
    c[0] = MAGIC;
    c[1] = cpus;
    c[PAUSABLE] = pausable ? 1 : 0;
    this.handle = Object.freeze({ memory, control, module, cpus });
  }

  /** Attaches CPU `index` in this thread (see attachCpu). */
  attach(index: number, options?: AttachOptions): SharedCpu {
    return attachCpu(this.handle, index, options);
  }

  /** Which CPUs are attached now (in any thread). */
  get attached(): number[] {
    return attachedCpus(this.handle);
  }
}

function checkHandle(handle: unknown): SharedMachineHandle {
  const h = handle as SharedMachineHandle;
  if (
    typeof h !== "object" || h === null || !(h.memory instanceof WebAssembly.Memory) || !(h.control instanceof SharedArrayBuffer) ||
    !(h.module instanceof WebAssembly.Module) || new Int32Array(h.control)[0] !== MAGIC
  ) {
    throw new ArgumentError(`a SharedMachine's handle is { memory, control, module, cpus } as machine.handle gives it, not ${show(handle)}`);
  }
  return h;
}

/** Which CPUs of the machine are attached now (in any thread). */
export function attachedCpus(handle: SharedMachineHandle): number[] {
  const c = new Int32Array(checkHandle(handle).control);
  const out: number[] = [];
  for (let i = 0; i < handle.cpus; i++) if (Atomics.load(c, INBOX0 + i * INBOX_INTS + ATTACHED) !== 0) out.push(i);
  return out;
}

/**
 * Attaches CPU `index` of the machine in this thread: a new instance of the
 * core over the machine's memory, with an empty TLB. A CPU is attached in one
 * thread at a time (ArgumentError CPU_ATTACHED otherwise) until detached.
 */
export function attachCpu(handle: SharedMachineHandle, index: number, options?: AttachOptions): SharedCpu {
  const h = checkHandle(handle);
  if (!Number.isInteger(index) || index < 0 || index >= h.cpus) throw new ArgumentError(`a CPU index is an integer in 0..${h.cpus - 1}, not ${show(index)}`);
  const c = new Int32Array(h.control);
  const base = INBOX0 + index * INBOX_INTS;
  if (Atomics.compareExchange(c, base + ATTACHED, 0, 1) !== 0) throw new X86MmuError("CPU_ATTACHED", `CPU ${index} is attached already (in this thread or another); detach it first`);
  try {
    // Invalidations posted to it while it was detached concern a TLB it no longer has.
    lockInbox(c, base);
    c[base + COUNT] = 0;
    c[base + FLUSH] = 0;
    const posted = c[base + POSTED];
    unlockInbox(c, base);
    Atomics.store(c, base + DONE, posted);
    Atomics.notify(c, base + DONE);
    const mmu = new Mmu({ ...(options?.state ?? {}), ...(options?.tlb ? { tlb: options.tlb } : {}) }, { module: h.module, memory: h.memory, slot: index });
    // The dirty log may be on already: this CPU notes its writes from the start.
    mmu.coreInstance.x.journalSync();
    const cpu = new SharedCpu(h, index, mmu, posted);
    mmu.coreInstance.sharedPausing = () => cpu.pausing;
    return cpu;
  } catch (e) {
    Atomics.store(c, base + ATTACHED, 0);
    throw e;
  }
}

function lockInbox(c: Int32Array, base: number): void {
  while (Atomics.compareExchange(c, base + LOCK, 0, 1) !== 0) {
    // Held for a few stores by another thread.
  }
}

function unlockInbox(c: Int32Array, base: number): void {
  Atomics.store(c, base + LOCK, 0);
}

function encode(inv: Invalidation): [number, number, bigint] {
  if (inv.kind === "invlpg") return [0, 0, toU64(inv.va, "va")];
  if (inv.kind === "invpcid") return [1 + inv.type, inv.pcid ?? 0, toU64(inv.va ?? 0n, "va")];
  return [5, 0, 0n];
}

/** The inbox code of "take the journal's state" (not an invalidation: posted by resumeOthers). */
const JOURNAL_SYNC = 6;

function decode(code: number, pcid: number, va: bigint): Invalidation {
  if (code === 0) return { kind: "invlpg", va };
  if (code <= 4) return { kind: "invpcid", type: (code - 1) as 0 | 1 | 2 | 3, pcid, va };
  return { kind: "flush" };
}

/** A posted shootdown: done once every target has performed it (or detached, which empties its TLB). */
export class SharedShootdown {
  /** @internal */
  constructor(
    private readonly control: Int32Array,
    readonly targets: readonly number[],
    /** Per target, the post count that includes this shootdown. */
    private readonly tickets: readonly number[],
    private readonly poster: SharedCpu | undefined,
  ) {}

  private left(i: number): boolean {
    const base = INBOX0 + this.targets[i] * INBOX_INTS;
    return ((Atomics.load(this.control, base + DONE) - this.tickets[i]) | 0) < 0 && Atomics.load(this.control, base + ATTACHED) !== 0;
  }

  /** True when every target has performed the invalidations. */
  get done(): boolean {
    return this.waiting.length === 0;
  }

  /** The targets that have not performed them yet. */
  get waiting(): number[] {
    return this.targets.filter((_, i) => this.left(i));
  }

  /**
   * Blocks until every target has performed the shootdown, or `timeoutMs`
   * has passed; returns `done`. While it waits the poster keeps performing
   * shootdowns posted to it (as a CPU waiting for IPI acknowledgements keeps
   * taking IPIs), so two CPUs waiting for each other do not deadlock. Needs
   * a thread that may block (a worker, or Node's main thread); a browser's
   * main thread uses waitAsync.
   */
  wait(timeoutMs = Infinity): boolean {
    const steps = this.waits(timeoutMs);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      const at = r.value[0];
      Atomics.wait(this.control, at, Atomics.load(this.control, at), Math.min(r.value[1], 1));
    }
  }

  /** As wait, without blocking the thread: resolves to `done`. */
  async waitAsync(timeoutMs = Infinity): Promise<boolean> {
    const waitAsync = (Atomics as unknown as { waitAsync?: (a: Int32Array, i: number, v: number, t: number) => { async: boolean; value: Promise<string> | string } }).waitAsync;
    const steps = this.waits(timeoutMs);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      const at = r.value[0];
      if (waitAsync) {
        const w = waitAsync(this.control, at, Atomics.load(this.control, at), Math.min(r.value[1], 5));
        if (w.async) await w.value;
      } else await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  /**
   * The loop of wait and waitAsync, without the waiting itself: for each
   * target that has not performed the shootdown, after the poster performed
   * its own pending ones, the inbox word to wait on and the milliseconds
   * left; returns `done` when time is up, true when every target is done.
   */
  private *waits(timeoutMs: number): Generator<[number, number], boolean> {
    const end = Date.now() + timeoutMs;
    for (let i = 0; i < this.targets.length; i++) {
      const at = INBOX0 + this.targets[i] * INBOX_INTS + DONE;
      while (this.left(i)) {
        const left = end - Date.now();
        if (left <= 0) return this.done;
        this.poster?.poll();
        yield [at, left];
      }
    }
    return true;
  }
}

/** One CPU of a SharedMachine, attached in this thread. */
export class SharedCpu {
  /** The Mmu API on this CPU: every call first performs the shootdowns posted to it. */
  readonly mmu: Mmu;
  private readonly control: Int32Array;
  private readonly base: number;
  private detached = false;

  /** @internal */
  constructor(
    private readonly handle: SharedMachineHandle,
    readonly index: number,
    private readonly raw: Mmu,
    /** The post count last performed. */
    private seen: number,
  ) {
    this.control = new Int32Array(handle.control);
    this.base = INBOX0 + index * INBOX_INTS;
    const c = this.control;
    const at = this.base + POSTED;
    const depth = this.base + DEPTH;
    if (c[PAUSABLE] === 0) {
      // Not pausable: a call only looks for posted shootdowns (one plain load).
      this.mmu = onCpu(raw, () => {
        if (this.detached) throw new X86MmuError("CPU_DETACHED", `CPU ${this.index} was detached: attach it again to use it`);
        if (c[at] !== this.seen) this.poll();
      });
      return;
    }
    this.mmu = onCpu(
      raw,
      () => {
        if (this.detached) throw new X86MmuError("CPU_DETACHED", `CPU ${this.index} was detached: attach it again to use it`);
        // The start of an outermost call is this CPU's safe point: a pause by another CPU is taken here.
        if (Atomics.add(c, depth, 1) === 0) {
          for (;;) {
            const pauser = Atomics.load(c, PAUSER);
            if (pauser === 0 || pauser === this.index + 1) break;
            Atomics.sub(c, depth, 1);
            this.park(pauser);
            Atomics.add(c, depth, 1);
          }
        }
        if (c[at] !== this.seen) {
          try {
            this.poll();
          } catch (e) {
            Atomics.sub(c, depth, 1);
            throw e;
          }
        }
      },
      // Only the entry needs the locked add (it must be seen before the pause word is read); a
      // plain decrement is enough on the way out: the pausing CPU only waits for it to reach 0.
      () => void (c[depth] = c[depth]! - 1),
    );
  }

  /** Waits while another CPU has the machine paused (from a call's safe point). */
  private park(pauser: number): void {
    const c = this.control;
    if (Atomics.load(c, PAUSER_THREAD) === THREAD) {
      throw new X86MmuError("CPU_PAUSED", `CPU ${this.index} is paused by CPU ${pauser - 1}, which runs in this thread: waiting would never end; resume it first (resumeOthers)`);
    }
    while (Atomics.load(c, PAUSER) === pauser) {
      try {
        Atomics.wait(c, PAUSER, pauser, 100);
      } catch {
        // A thread that may not block (a browser's main thread) spins.
      }
    }
  }

  /** True while this CPU has the other CPUs paused. */
  get pausing(): boolean {
    return Atomics.load(this.control, PAUSER) === this.index + 1;
  }

  /**
   * Pauses every other CPU of the machine at a safe point: each stops at the
   * start of its next call and waits; this returns once no other CPU is
   * inside a call. Throws X86MmuError MACHINE_PAUSED when another CPU has
   * the machine paused, and PAUSE_TIMEOUT (resuming them) when a CPU stays
   * inside a call for `timeoutMs`. Blocks the thread while it waits, as
   * `SharedShootdown.wait` does.
   */
  pauseOthers(timeoutMs = 5000): void {
    const c = this.control;
    if (this.detached) throw new X86MmuError("CPU_DETACHED", `CPU ${this.index} was detached: attach it again to use it`);
    if (Atomics.load(c, PAUSABLE) === 0) throw new X86MmuError("NOT_PAUSABLE", "this machine was made without { pausable: true }: its CPUs do not announce their calls, so none can be paused");
    const me = this.index + 1;
    const was = Atomics.compareExchange(c, PAUSER, 0, me);
    if (was === me) return;
    if (was !== 0) throw new X86MmuError("MACHINE_PAUSED", `the machine is paused by CPU ${was - 1}; only one CPU may pause the others at a time`);
    Atomics.store(c, PAUSER_THREAD, THREAD);
    const end = Date.now() + timeoutMs;
    for (let i = 0; i < this.handle.cpus; i++) {
      if (i === this.index) continue;
      const b = INBOX0 + i * INBOX_INTS;
      while (Atomics.load(c, b + ATTACHED) !== 0 && Atomics.load(c, b + DEPTH) !== 0) {
        if (Date.now() >= end) {
          this.resumeOthers();
          throw new X86MmuError("PAUSE_TIMEOUT", `CPU ${i} stayed inside a call for ${timeoutMs} ms; the machine was not paused`);
        }
        try {
          Atomics.wait(c, b + DEPTH, Atomics.load(c, b + DEPTH), 1);
        } catch {
          // spin where the thread may not block
        }
      }
    }
  }

  /** Lets the other CPUs run again (nothing if this CPU has not paused them). */
  resumeOthers(): void {
    const c = this.control;
    if (Atomics.load(c, PAUSER) !== this.index + 1) return;
    const core = this.raw.coreInstance;
    if (core.journalChanged) {
      // The dirty log changed while the others were paused: each takes its new state before its next call.
      core.journalChanged = false;
      for (const t of attachedCpus(this.handle)) if (t !== this.index) this.post(t, [[JOURNAL_SYNC, 0, 0n]]);
    }
    Atomics.store(c, PAUSER_THREAD, 0);
    Atomics.store(c, PAUSER, 0);
    Atomics.notify(c, PAUSER);
  }

  private requirePaused(what: string): void {
    if (!this.pausing) throw new X86MmuError("NOT_PAUSED", `${what} needs the other CPUs paused at a safe point: call pauseOthers() on this CPU first`);
  }

  /**
   * A snapshot of the machine's memory: every frame's bytes and the frame
   * allocator's state. Needs the other CPUs paused by this one (X86MmuError
   * NOT_PAUSED otherwise). Registers are each CPU's own (each thread keeps
   * what it needs, `mmu.state`). Costs a copy of every frame with data.
   */
  snapshot(): SharedSnapshot {
    this.requirePaused("a snapshot");
    const mem = this.raw.memory;
    const frames = new Map<bigint, Uint8Array>();
    for (const pa of mem.frames()) frames.set(pa, mem.readBytes(pa, 0x1000));
    const x = this.raw.coreInstance.x;
    const n = x.freeListCount();
    const free = new BigUint64Array(n);
    if (n > 0) {
      const ptr = this.scratch.reserve(n * 8);
      x.freeListRead(ptr, n);
      free.set(new BigUint64Array(x.memory.buffer, ptr, n));
    }
    return Object.freeze({ frames, allocator: { nextPfn: x.allocNextPfn(), free }, control: this.handle.control });
  }

  /**
   * Puts memory back as `snap` holds it and the allocator's state, then
   * flushes this CPU's TLB and posts a full flush to every other CPU,
   * performed when they resume. Frames first written after the snapshot
   * read as zero again but keep their storage (with several CPUs nothing is
   * released), so the allocator steps over them. Needs the other CPUs paused
   * by this one.
   */
  restore(snap: SharedSnapshot): void {
    this.requirePaused("restoring a snapshot");
    if (typeof snap !== "object" || snap === null || !(snap.frames instanceof Map) || snap.control !== this.handle.control) {
      throw new ArgumentError(`restore takes a snapshot of this machine from snapshot(), not ${show(snap)}`);
    }
    const mem = this.raw.memory;
    const zero = new Uint8Array(0x1000);
    for (const pa of mem.frames()) if (!snap.frames.has(pa)) mem.writeBytes(pa, zero);
    for (const [pa, bytes] of snap.frames) mem.writeBytes(pa, bytes);
    const x = this.raw.coreInstance.x;
    const a = snap.allocator;
    const ptr = a.free.length > 0 ? this.scratch.reserve(a.free.length * 8) : 0;
    if (a.free.length > 0) new BigUint64Array(x.memory.buffer, ptr, a.free.length).set(a.free);
    if (!x.allocRestore(a.nextPfn, ptr, a.free.length)) throw new OutOfMemoryError("the frame allocator's free list");
    this.raw.flushTlb();
    const others = attachedCpus(this.handle).filter((i) => i !== this.index);
    if (others.length) this.shootdown(others, { kind: "flush" });
  }

  /** A buffer in linear memory for the allocator's free list. */
  private get scratch(): ScratchBuffer {
    return (this.scratchBuf ??= new ScratchBuffer(this.raw.coreInstance, "a SharedMachine snapshot"));
  }
  private scratchBuf: ScratchBuffer | undefined;

  /**
   * The invalidations posted to this CPU and not performed yet, in order
   * (one full flush when its inbox overflowed).
   */
  get pending(): Invalidation[] {
    return this.take(false);
  }

  /** Reads the inbox (emptying it when `empty`); under its lock. */
  private take(empty: boolean): Invalidation[] {
    const c = this.control;
    const b = this.base;
    lockInbox(c, b);
    const work: Invalidation[] = [];
    let sync = false;
    for (let k = 0; k < c[b + COUNT]; k++) {
      const r = b + REC + k * 4;
      if (c[r] === JOURNAL_SYNC) sync = true;
      else if (c[b + FLUSH] === 0) work.push(decode(c[r], c[r + 1], (BigInt(c[r + 3] >>> 0) << 32n) | BigInt(c[r + 2] >>> 0)));
    }
    if (c[b + FLUSH] !== 0) {
      // The inbox overflowed: a full flush, and the journal's state taken in case a sync was among the lost.
      work.push({ kind: "flush" });
      sync = true;
    }
    if (empty) this.syncJournal = sync;
    if (empty) {
      this.taken = c[b + POSTED];
      c[b + COUNT] = 0;
      c[b + FLUSH] = 0;
    }
    unlockInbox(c, b);
    return work;
  }

  /** Set by take(true): the post count the inbox held, and whether a journal sync was among it. */
  private taken = 0;
  private syncJournal = false;

  /**
   * Performs the invalidations posted to this CPU (the shootdown interrupt,
   * taken) and acknowledges them; returns how many shootdowns that was.
   */
  poll(): number {
    const c = this.control;
    const b = this.base;
    if (Atomics.load(c, b + POSTED) === this.seen) return 0;
    const work = this.take(true);
    const posted = this.taken;
    if (this.syncJournal) this.raw.coreInstance.x.journalSync();
    for (const inv of work) perform(this.raw, inv);
    const count = (posted - this.seen) | 0;
    this.seen = posted;
    Atomics.store(c, b + DONE, posted);
    Atomics.notify(c, b + DONE);
    return count;
  }

  /**
   * Posts a TLB shootdown: each CPU in `targets` performs `invalidations`,
   * in order, at its next call or poll. This CPU, if it is a target,
   * performs them at once (an OS invalidates locally itself). More than an
   * inbox holds (32 pending) becomes a full flush, as OSes do past a
   * threshold. CPUs not attached are skipped (attaching starts with an empty
   * TLB). Throws ArgumentError, posting nothing, for a bad target or
   * invalidation.
   */
  shootdown(targets: readonly number[], invalidations: Invalidation | readonly Invalidation[]): SharedShootdown {
    if (!Array.isArray(targets)) throw new ArgumentError(`shootdown targets are an array of CPU indexes, not ${show(targets)}`);
    for (const t of targets) if (!Number.isInteger(t) || t < 0 || t >= this.handle.cpus) throw new ArgumentError(`a CPU index is an integer in 0..${this.handle.cpus - 1}, not ${show(t)}`);
    if (new Set(targets).size !== targets.length) throw new ArgumentError(`shootdown targets list a CPU twice: ${show(targets)}`);
    const list: readonly Invalidation[] = Array.isArray(invalidations) ? invalidations : [invalidations as Invalidation];
    if (list.length === 0) throw new ArgumentError("a shootdown needs at least one invalidation");
    const codes = list.map((inv, k) => encode(checkInvalidation(inv, `invalidations[${k}]`)));
    const c = this.control;
    const remote: number[] = [];
    const tickets: number[] = [];
    for (const t of targets) {
      if (t === this.index) {
        for (const inv of list) perform(this.raw, inv);
        continue;
      }
      const posted = this.post(t, codes);
      if (posted === undefined) continue;
      remote.push(t);
      tickets.push(posted);
    }
    return new SharedShootdown(c, remote, tickets, this);
  }

  /** Puts `codes` in CPU `t`'s inbox (a full flush when they do not fit); returns the post count, or undefined when `t` is not attached. */
  private post(t: number, codes: readonly [number, number, bigint][]): number | undefined {
    const c = this.control;
    const b = INBOX0 + t * INBOX_INTS;
    if (Atomics.load(c, b + ATTACHED) === 0) return undefined;
    lockInbox(c, b);
    const n = c[b + COUNT]!;
    if (n + codes.length > RECORDS) c[b + FLUSH] = 1;
    else {
      codes.forEach(([code, pcid, va], k) => {
        const r = b + REC + (n + k) * 4;
        c[r] = code;
        c[r + 1] = pcid;
        c[r + 2] = Number(va & 0xffffffffn) | 0;
        c[r + 3] = Number(va >> 32n) | 0;
      });
      c[b + COUNT] = n + codes.length;
    }
    const posted = (c[b + POSTED]! + 1) | 0;
    Atomics.store(c, b + POSTED, posted);
    unlockInbox(c, b);
    return posted;
  }

  /**
   * Detaches this CPU: its `mmu` refuses further calls, its slot (and TLB)
   * may be attached again, and shootdowns waiting for it are done.
   */
  detach(): void {
    if (this.detached) return;
    this.resumeOthers();
    this.detached = true;
    const c = this.control;
    const b = this.base;
    Atomics.store(c, b + DONE, Atomics.load(c, b + POSTED));
    Atomics.store(c, b + ATTACHED, 0);
    Atomics.notify(c, b + DONE);
  }
}
