/**
 * A machine of several CPUs over one physical memory, in one thread (the
 * worker-free mode of issue 15): each CPU has its own registers (CR0, CR3,
 * CR4, EFER, PKRU, IA32_PKRS, MAXPHYADDR, the PDPTE registers, the nested
 * paging context), its own TLB and paging-structure cache, and its own last
 * fault; memory, frames, devices, hooks, the dirty log and the TLB counters
 * are the machine's.
 *
 * One core runs the CPUs in turn: using a CPU's `mmu` makes it the current
 * one, which saves the previous CPU's registers, TLB and PDE cache and puts
 * this one's back. So a translation one CPU cached stays in its TLB while
 * another CPU changes the page tables, exactly where hardware lets it stay
 * (SDM 4.10.5): until that CPU itself invalidates it, which a TLB shootdown
 * asks it to do. Deterministic: nothing runs unless called.
 *
 * What is machine-wide and so drops saved TLBs (the processor may always
 * invalidate more than asked): device, hook and layout changes, a snapshot
 * restored, memory reset. Storage released (a table freed by unmap, a frame
 * freed) or a new dirty-log/snapshot generation keep the saved translations
 * and only make their cached storage pointers be looked up again.
 */

import { ArgumentError, X86MmuError, show } from "../base/index.js";
import { MAILBOX_BYTES } from "../arch/index.js";
import { Mmu, PageTable, LegacyPageTable, coreOf, type CpuState, type SavedRegisters, type TlbGeometry } from "../mmu/index.js";
import { Batch } from "../mmu/batch.js";
import type { PhysicalMemory, Snapshot } from "../phys/index.js";
import { checkInvalidation, perform, type Invalidation } from "./invalidation.js";
import { onCpu } from "./on-cpu.js";

/** The most CPUs a machine may have. */
export const MAX_CPUS = 256;

export interface MachineOptions {
  /** How many CPUs (1..MAX_CPUS). */
  cpus: number;
  /** Every CPU's registers at the start (as `new Mmu(state)`); each CPU can load its own afterwards. */
  state?: Partial<CpuState>;
  /** Every CPU's TLB geometry (as `new Mmu({ tlb })`). */
  tlb?: TlbGeometry;
}

/** A snapshot of the whole machine: memory, and every CPU's registers. */
export interface MachineSnapshot {
  readonly memory: Snapshot<SavedRegisters>;
  readonly registers: readonly SavedRegisters[];
  /** False once the memory snapshot has ended (restored past, released, memory reset). */
  readonly valid: boolean;
}

/** What a CPU keeps while another one runs. */
interface Saved {
  regs: SavedRegisters;
  /** TLB and PDE-cache bytes, and the mailbox (the last fault); undefined: empty (start, or dropped). */
  tlb?: Uint8Array;
  psc?: Uint8Array;
  mailbox?: Uint8Array;
  /** The core's epochs when they were saved. */
  shared: number;
  storage: number;
}

/** A posted shootdown: done once every target CPU has performed its invalidations. */
export class Shootdown {
  /** @internal */
  readonly left: Set<number>;
  constructor(
    readonly targets: readonly number[],
    readonly invalidations: readonly Invalidation[],
  ) {
    this.left = new Set(targets);
  }
  /** True when every target has performed the invalidations (acknowledged). */
  get done(): boolean {
    return this.left.size === 0;
  }
  /** The targets that have not performed them yet. */
  get waiting(): number[] {
    return [...this.left].sort((a, b) => a - b);
  }
}

/** One CPU of a Machine. */
export class Cpu {
  /** The Mmu API, run on this CPU: every call (and property) makes it the current CPU first. */
  readonly mmu: Mmu;
  /** @internal Shootdowns posted to this CPU and not yet performed, oldest first. */
  readonly inbox: Shootdown[] = [];
  /** @internal */
  saved: Saved | undefined;
  /** @internal Where this CPU's caches are saved, allocated on its first switch out and reused. */
  buffers: { tlb: Uint8Array; psc: Uint8Array; mailbox: Uint8Array } | undefined;

  constructor(
    private readonly machine: Machine,
    readonly index: number,
    base: Mmu,
  ) {
    this.mmu = onCpu(base, () => machine.enter(index)) as Mmu;
  }

  /** The invalidations posted to this CPU and not performed yet, in order. */
  get pending(): Invalidation[] {
    return this.inbox.flatMap((s) => [...s.invalidations]);
  }

  /**
   * Runs `fn` on this CPU's registers and caches without taking its pending
   * invalidations: a debugger's look (say, at `tlbEntries()`) that does not
   * make the CPU run. Returns what `fn` returns.
   */
  peek<T>(fn: (mmu: Mmu) => T): T {
    this.machine.switchTo(this.index);
    return fn(this.machine.baseMmu);
  }

  /** Performs the pending invalidations now (the shootdown's interrupt, taken); returns how many it performed. */
  poll(): number {
    const n = this.pending.length;
    this.machine.enter(this.index);
    return n;
  }
}

export class Machine {
  readonly cpus: readonly Cpu[];
  /** Physical memory, shared by every CPU (direct access, no TLB involved). */
  readonly memory: PhysicalMemory;
  private readonly base: Mmu;
  private currentIndex = 0;
  /** @internal The Mmu the CPUs take turns on (for peek). */
  get baseMmu(): Mmu {
    return this.base;
  }
  /** Re-entry guard: a switch in progress (a callback cannot switch CPUs meanwhile). */
  private switching = false;

  constructor(options: MachineOptions) {
    if (typeof options !== "object" || options === null) throw new ArgumentError(`a Machine needs { cpus, state? }, not ${show(options)}`);
    const n = options.cpus;
    if (!Number.isInteger(n) || n < 1 || n > MAX_CPUS) throw new ArgumentError(`cpus is an integer in 1..${MAX_CPUS}, not ${show(n)}`);
    this.base = new Mmu(options.tlb ? { ...options.state, tlb: options.tlb } : options.state);
    this.memory = this.base.memory;
    const start = this.base.savedRegisters();
    const x = coreOf(this.base).x;
    this.cpus = Array.from({ length: n }, (_, i) => {
      const cpu = new Cpu(this, i, this.base);
      if (i > 0) cpu.saved = { regs: start, shared: x.sharedCacheEpoch(), storage: x.storageEpoch() };
      return cpu;
    });
  }

  /** CPU `i`. */
  cpu(i: number): Cpu {
    if (!Number.isInteger(i) || i < 0 || i >= this.cpus.length) throw new ArgumentError(`CPU ${show(i)} is not in 0..${this.cpus.length - 1}`);
    return this.cpus[i]!;
  }

  /** The CPU whose registers and TLB the core holds now. */
  get current(): number {
    return this.currentIndex;
  }

  /**
   * Posts a TLB shootdown: each CPU in `targets` performs `invalidations`, in
   * order, at its next operation or when it polls (the interrupt an OS sends
   * is taken at the next instruction boundary). Until then it may use the
   * stale entries. Everything is checked first: a refused shootdown posts
   * nothing. Returns the ticket the initiator waits on (`done`).
   */
  shootdown(targets: readonly number[], invalidations: Invalidation | readonly Invalidation[]): Shootdown {
    if (!Array.isArray(targets)) throw new ArgumentError(`shootdown targets are an array of CPU numbers, not ${show(targets)}`);
    const seen = new Set<number>();
    for (const t of targets) {
      this.cpu(t);
      if (seen.has(t)) throw new ArgumentError(`CPU ${t} is named twice among the shootdown targets`);
      seen.add(t);
    }
    const list = Array.isArray(invalidations) ? invalidations : [invalidations];
    if (list.length === 0) throw new ArgumentError("a shootdown needs at least one invalidation");
    const checked = list.map((inv, k) => checkInvalidation(inv, `invalidations[${k}]`));
    const ticket = new Shootdown([...targets], checked);
    for (const t of targets) this.cpus[t]!.inbox.push(ticket);
    return ticket;
  }

  /** Every CPU with pending invalidations performs them now; returns how many were performed. */
  pollAll(): number {
    const start = this.currentIndex;
    let n = 0;
    for (const cpu of this.cpus) if (cpu.inbox.length) n += cpu.poll();
    this.enter(start);
    return n;
  }

  /** A snapshot of memory and of every CPU's registers (TLBs are not state: restore empties them). */
  snapshot(): MachineSnapshot {
    const registers = this.cpus.map((c) => (c.index === this.currentIndex ? this.base.savedRegisters() : c.saved!.regs));
    const memory = this.base.snapshot();
    return {
      memory,
      registers,
      get valid() {
        return memory.valid;
      },
    };
  }

  /**
   * Puts memory and every CPU's registers back as `s` saved them; every TLB
   * is emptied and pending shootdowns are dropped as done (there is nothing
   * left to invalidate). SnapshotError for an ended or foreign snapshot,
   * with nothing changed.
   */
  restore(s: MachineSnapshot): void {
    if (typeof s !== "object" || s === null || !Array.isArray(s.registers) || s.registers.length !== this.cpus.length) {
      throw new ArgumentError(`restore needs a snapshot of this machine's ${this.cpus.length} CPUs, not ${show(s)}`);
    }
    this.base.restore(s.memory);
    const x = coreOf(this.base).x;
    for (const cpu of this.cpus) {
      for (const t of cpu.inbox) t.left.delete(cpu.index);
      cpu.inbox.length = 0;
      cpu.saved = cpu.index === this.currentIndex ? undefined : { regs: s.registers[cpu.index]!, shared: x.sharedCacheEpoch(), storage: x.storageEpoch() };
    }
    this.base.putRegisters(s.registers[this.currentIndex]!);
  }

  /**
   * @internal Makes CPU `i` current (saving the current one's registers and
   * caches, putting i's back), then performs its pending invalidations.
   */
  enter(i: number): void {
    this.switchTo(i);
    const cpu = this.cpus[i]!;
    while (cpu.inbox.length) {
      const ticket = cpu.inbox[0]!;
      for (const inv of ticket.invalidations) perform(this.base, inv);
      cpu.inbox.shift();
      ticket.left.delete(i);
    }
  }

  /** @internal Makes CPU i current without taking its pending invalidations (peek). */
  switchTo(i: number): void {
    if (i === this.currentIndex) return;
    if (this.switching) throw new SwitchError(`CPU ${i} was used while the machine was switching CPUs (from a callback of the switch)`);
    this.switching = true;
    try {
      const core = coreOf(this.base);
      const x = core.x;
      const tlbPtr = x.tlbPtr() >>> 0;
      const tlbLen = x.tlbBytes() >>> 0;
      const pscPtr = x.pscPtr() >>> 0;
      const pscLen = x.pscBytes() >>> 0;
      const mb = core.mailbox;
      // Save the current CPU (views are taken after each call that may grow memory).
      const out = this.cpus[this.currentIndex]!;
      const regs = this.base.savedRegisters();
      let u8 = core.u8();
      const bufs = (out.buffers ??= { tlb: new Uint8Array(tlbLen), psc: new Uint8Array(pscLen), mailbox: new Uint8Array(MAILBOX_BYTES) });
      bufs.tlb.set(u8.subarray(tlbPtr, tlbPtr + tlbLen));
      bufs.psc.set(u8.subarray(pscPtr, pscPtr + pscLen));
      bufs.mailbox.set(u8.subarray(mb, mb + MAILBOX_BYTES));
      out.saved = { regs, tlb: bufs.tlb, psc: bufs.psc, mailbox: bufs.mailbox, shared: x.sharedCacheEpoch(), storage: x.storageEpoch() };
      // Put CPU i back: its registers (the TLB is flushed), then its caches if still valid.
      const into = this.cpus[i]!;
      const saved = into.saved!;
      this.base.putRegisters(saved.regs);
      u8 = core.u8();
      if (saved.tlb && saved.psc && saved.shared === x.sharedCacheEpoch()) {
        u8.set(saved.tlb, tlbPtr);
        u8.set(saved.psc, pscPtr);
        x.cachesRestored(saved.storage === x.storageEpoch() ? 0 : 1);
      }
      if (saved.mailbox) core.u8().set(saved.mailbox, mb);
      else core.u8().fill(0, mb, mb + MAILBOX_BYTES); // a CPU that never ran has no last fault
      into.saved = undefined;
      this.currentIndex = i;
    } finally {
      this.switching = false;
    }
  }
}

/** A CPU switch could not be made (used from inside a switch). */
export class SwitchError extends X86MmuError {
  constructor(message: string) {
    super("CPU_SWITCH", message);
  }
}
