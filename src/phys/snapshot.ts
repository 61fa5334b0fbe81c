/**
 * The dirty log and snapshots, over the core's write interception
 * (assembly/journal.ts).
 *
 * The dirty log lists the physical frames written since it was last cleared,
 * whatever wrote them (guest stores, accessed/dirty flags the walk set, bulk
 * copies, the physical API), independently of the page-table D flags.
 *
 * A snapshot records the registers and, from then on, saves each frame's
 * contents before its first write (copy-on-write), so restoring costs time in
 * proportion to the frames written since the snapshot, not to memory size.
 * Snapshots nest: restoring one ends those taken after it; it stays usable,
 * and restoring it again undoes only what was written since the last restore.
 */

import { PAGE_SIZE } from "../arch/index.js";
import { ScratchBuffer, type Core } from "../core/index.js";
import { X86MmuError, OutOfMemoryError, ArgumentError, show, toU64, type Address } from "../base/index.js";

/** A snapshot misused: of another Mmu, ended (a later restore or reset passed it), or memory ran out while saving. */
export class SnapshotError extends X86MmuError {
  constructor(message: string) {
    super("SNAPSHOT", message);
  }
}

export class DirtyLog {
  private on = false;
  private readonly buf: ScratchBuffer;
  constructor(private readonly core: Core) {
    this.buf = new ScratchBuffer(core, "the dirty log");
  }

  /** Starts logging; frames written from now on are listed. */
  start(): void {
    this.core.journalChange("starting the dirty log");
    this.core.x.dirtyStart();
    this.on = true;
  }

  /** Stops logging and forgets the list. */
  stop(): void {
    this.core.journalChange("stopping the dirty log");
    this.core.x.dirtyStop();
    this.on = false;
  }

  /** Whether the log is on (with several CPUs: the machine's log, which any CPU may have started). */
  get running(): boolean {
    return this.core.shared ? this.core.x.dirtyRunning() !== 0 : this.on;
  }

  /** Forgets the frames listed so far; each frame is listed again at its next write. */
  clear(): void {
    this.core.journalChange("clearing the dirty log");
    this.core.x.dirtyClear();
  }

  /** Physical addresses of the frames written since the last clear, ascending, each once. */
  frames(): bigint[] {
    const n = this.core.x.dirtyCount();
    if (n === 0) return [];
    const ptr = this.buf.reserve(n * 8);
    const got = this.core.x.dirtyList(ptr, n);
    const view = new BigUint64Array(this.core.x.memory.buffer, ptr, got);
    const set = new Set<bigint>();
    for (const pfn of view) set.add(pfn << 12n);
    return [...set].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * One bit per frame of [start, start + frames * 4 KiB): bit i set when frame
   * i was written. `start` (a bigint or a safe integer) is rounded down to its
   * frame; `frames` is at most 2^32.
   */
  bitmap(start: Address, frames: number): Uint8Array {
    const s = toU64(start, "bitmap start");
    if (!Number.isSafeInteger(frames) || frames < 0 || frames > 2 ** 32) throw new ArgumentError(`bitmap frames ${show(frames)} is not an integer in 0..2^32`);
    const out = new Uint8Array(Math.ceil(frames / 8));
    const first = s >> 12n;
    for (const pa of this.frames()) {
      const i = Number((pa >> 12n) - first);
      if (i >= 0 && i < frames) out[i >> 3]! |= 1 << (i & 7);
    }
    return out;
  }

}

/** The guest frame allocator's state: the next frame to try and the free list. */
interface AllocatorState {
  nextPfn: number;
  free: BigUint64Array;
}

/** A snapshot of one Mmu: registers, physical memory and the frame allocator as they were (see Mmu.snapshot). */
export class Snapshot<R extends object = object> {
  /** @internal */
  constructor(
    readonly owner: Snapshots<R>,
    /** The CPU registers as they were (the Mmu's CpuState). */
    readonly registers: R,
    readonly takenAt: number,
    /** @internal */
    readonly allocator: AllocatorState,
  ) {}

  /** @internal */
  alive = true;

  /** False once a restore of an earlier snapshot, a memory reset or release() ended it. */
  get valid(): boolean {
    return this.alive;
  }

  /** Frames saved for this snapshot so far (its memory cost is that many 4 KiB). */
  get frames(): number {
    return this.owner.framesOf(this);
  }

  /** Bytes of memory this snapshot keeps (saved frames). */
  get bytes(): number {
    return this.frames * PAGE_SIZE;
  }

  /** Ends the snapshot and gives back what it alone needed. */
  release(): void {
    this.owner.release(this);
  }
}

/** The live snapshots of one Mmu, oldest first: index k is the core's epoch k. */
/** The snapshots of one Mmu; `R` is its register state, saved and handed back as given. */
export class Snapshots<R extends object> {
  private live: Snapshot<R>[] = [];
  private serial = 0;
  private readonly buf: ScratchBuffer;

  constructor(
    private readonly core: Core,
    private readonly mmu: object,
  ) {
    this.buf = new ScratchBuffer(core, "a snapshot's free list");
  }

  take(registers: R): Snapshot<R> {
    this.core.refuseShared("a snapshot");
    if (this.core.x.snapshotsBroken()) throw new SnapshotError("memory ran out while saving for an earlier snapshot; reset memory before taking snapshots again");
    const k = this.core.x.snapshotTake();
    if (k < 0) throw new SnapshotError("too many snapshots kept (4096); release some");
    const s = new Snapshot(this, registers, ++this.serial, this.allocatorState());
    this.live.push(s);
    return s;
  }

  private indexOf(s: Snapshot<R>, what: string): number {
    if (!(s instanceof Snapshot) || s.owner !== this) throw new SnapshotError(`cannot ${what} a snapshot of another Mmu`);
    const k = this.live.indexOf(s);
    if (k < 0) throw new SnapshotError(`cannot ${what} snapshot #${s.takenAt}: it has ended (restored past, released, or memory was reset)`);
    return k;
  }

  /**
   * Restores memory and the frame allocator; returns the registers to load.
   * All or nothing: the snapshot is checked, then `check` looks at the
   * registers, then the allocator's state is rebuilt (the one step that may
   * run out of memory, changing nothing), and only then memory changes.
   */
  restore(s: Snapshot<R>, check?: (registers: R) => void): R {
    const k = this.indexOf(s, "restore");
    if (this.core.x.snapshotsBroken()) throw new SnapshotError("memory ran out while saving a frame for a snapshot; it can no longer be restored exactly");
    check?.(s.registers);
    this.restoreAllocator(s.allocator);
    this.core.x.snapshotRestore(k);
    for (const later of this.live.splice(k + 1)) later.alive = false;
    return s.registers;
  }

  private allocatorState(): AllocatorState {
    const x = this.core.x;
    const n = x.freeListCount();
    const free = new BigUint64Array(n);
    if (n > 0) {
      const ptr = this.buf.reserve(n * 8);
      x.freeListRead(ptr, n);
      free.set(new BigUint64Array(x.memory.buffer, ptr, n));
    }
    return { nextPfn: x.allocNextPfn(), free };
  }

  private restoreAllocator(a: AllocatorState): void {
    const ptr = a.free.length > 0 ? this.buf.reserve(a.free.length * 8) : 0;
    if (a.free.length > 0) new BigUint64Array(this.core.x.memory.buffer, ptr, a.free.length).set(a.free);
    if (!this.core.x.allocRestore(a.nextPfn, ptr, a.free.length)) throw new OutOfMemoryError("the frame allocator's free list");
  }


  release(s: Snapshot<R>): void {
    const k = this.indexOf(s, "release");
    this.core.x.snapshotDrop(k);
    this.live.splice(k, 1);
    s.alive = false;
  }

  framesOf(s: Snapshot<R>): number {
    const k = this.live.indexOf(s);
    return k < 0 ? 0 : this.core.x.snapshotFrames(k);
  }

  /** Memory was reset: every snapshot ends. */
  invalidateAll(): void {
    for (const s of this.live) s.alive = false;
    this.live = [];
  }

  /** The Mmu these snapshots belong to. */
  get of(): object {
    return this.mmu;
  }
}
