/**
 * The physical address space beyond plain RAM, and the slow path of every
 * access that touches it: devices served by callbacks (MMIO), addresses that
 * are neither RAM nor a device (unmapped: read as zero or fault, as the
 * embedder chooses), and access hooks on linear or physical ranges.
 *
 * The core keeps the fast paths for RAM: it only learns which pages are
 * "special" (special.ts) and, when an access reaches one, returns
 * STATUS_SPECIAL; the host layer then performs that access here, once for the
 * whole access even when it crosses a page boundary. With no device, layout
 * or hook registered, nothing here runs.
 */

import { PAGE_SIZE } from "../arch/index.js";
import { type Address, toU64, lo32, hi32, hex, show } from "../base/index.js";
import type { Core } from "../core/index.js";
import { ArgumentError, MappingError, OutOfMemoryError, ReentrancyError, X86MmuError, MAX_CALLBACK_DEPTH } from "../base/index.js";

export type BusSize = 1 | 2 | 4 | 8;

/** A device on the physical bus. Values are little-endian, `size` bytes. */
export interface Device {
  read(pa: bigint, size: BusSize): bigint | number;
  write(pa: bigint, size: BusSize, value: bigint): void;
}

export type HookOp = "read" | "write" | "fetch";

/** An access as a hook sees it: once per access, with its whole range. */
export interface AccessEvent {
  op: HookOp;
  /** Linear address of the first byte (guest accesses and bulk copies always have one). */
  va?: bigint;
  /** Physical address of the first byte. */
  pa: bigint;
  size: number;
  cpl: 0 | 3;
  /** For a write, the value being written; for `after` hooks of reads and fetches, the value read. */
  value?: bigint;
}

export interface HookSpec {
  /** Which addresses `start`/`length` are: linear (the access's) or physical. */
  space: "linear" | "physical";
  start: Address;
  length: Address;
  /** Which accesses fire the hook (default all three). */
  ops?: HookOp[];
  /** Called before the access is performed. Throwing aborts the access (nothing is written). */
  before?(event: AccessEvent): void;
  /** Called after the access with its value. */
  after?(event: AccessEvent): void;
}

export interface Handle {
  /** Unregisters it; later accesses take the fast path again. */
  remove(): void;
}

/** An access reached a physical address that is neither RAM nor a device, with `unmapped: "fault"`. */
export class UnmappedPhysicalError extends X86MmuError {
  constructor(readonly pa: bigint, readonly op: HookOp) {
    super("UNMAPPED_PHYSICAL", `${op} of physical ${hex(pa)}: no RAM or device there (layout says unmapped addresses fault)`);
  }
}

/** A device callback broke its contract: `read` returned something other than an integer. */
export class DeviceError extends X86MmuError {
  constructor(readonly pa: bigint, readonly size: number, readonly value: unknown) {
    super("DEVICE_VALUE", `the device read of ${size} byte${size === 1 ? "" : "s"} at physical ${hex(pa)} returned ${describe(value)}, not an integer (a bigint or a safe integer number)`);
  }
}

function describe(v: unknown): string {
  if (typeof v === "number") return String(v);
  if (v === null) return "null";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "..." : v);
  return typeof v === "undefined" ? "undefined" : `a ${typeof v}`;
}

interface Range {
  start: bigint;
  end: bigint;
}
interface DeviceEntry extends Range {
  device: Device;
}
interface HookEntry extends Range {
  space: "linear" | "physical";
  ops: Set<HookOp>;
  before?: (e: AccessEvent) => void;
  after?: (e: AccessEvent) => void;
}

const SPECIAL_PHYS = 0;
const SPECIAL_LINEAR = 1;
const PAGE = BigInt(PAGE_SIZE);

function overlaps(a: Range, start: bigint, end: bigint): boolean {
  return a.start < end && start < a.end;
}

/** Merged page ranges [startPage, endPage) covering the given byte ranges. */
function pageRanges(ranges: Range[]): Range[] {
  const pages = ranges
    .map((r) => ({ start: r.start / PAGE, end: (r.end + PAGE - 1n) / PAGE }))
    .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
  const out: Range[] = [];
  for (const r of pages) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) {
      if (r.end > last.end) last.end = r.end;
    } else out.push({ ...r });
  }
  return out;
}

export class Bus {
  private devices: DeviceEntry[] = [];
  private ram: Range[] | undefined;
  private unmappedFaults = false;
  private hooks: HookEntry[] = [];

  constructor(
    private readonly core: Core,
    private readonly maxPhyAddr: () => number,
  ) {}

  private depth = 0;

  /**
   * Runs a device, hook or fault-handler callback one level deeper; past
   * MAX_CALLBACK_DEPTH levels (a callback performing the access that called
   * it, again and again) the call is refused with ReentrancyError instead of
   * overflowing the stack.
   */
  callback<T>(what: string, fn: () => T): T {
    if (this.depth >= MAX_CALLBACK_DEPTH) {
      throw new ReentrancyError(`${what} refused: callbacks are nested ${MAX_CALLBACK_DEPTH} deep (does a device, hook or fault handler perform the access that called it?)`);
    }
    this.depth++;
    try {
      return fn();
    } finally {
      this.depth--;
    }
  }

  /** True when some device, layout or hook is registered (the slow path may have work). */
  get active(): boolean {
    return this.devices.length > 0 || this.ram !== undefined || this.hooks.length > 0;
  }

  // ---- Registration ----

  private range(start: Address, length: Address, what: string, physical: boolean): Range {
    const s = toU64(start, `${what} start`);
    const l = toU64(length, `${what} length`);
    if (l === 0n) throw new ArgumentError(`${what} ${hex(s)}: length is 0`);
    const end = s + l;
    if (end > 1n << 64n) throw new ArgumentError(`${what} ${hex(s)}+${hex(l)} wraps past 2^64`);
    if (physical && end > 1n << BigInt(this.maxPhyAddr())) {
      throw new ArgumentError(`${what} ${hex(s)}+${hex(l)} reaches past 2^MAXPHYADDR (${this.maxPhyAddr()})`);
    }
    return { start: s, end };
  }

  private backed(r: Range): boolean {
    const s = r.start / PAGE;
    const e = (r.end + PAGE - 1n) / PAGE;
    return this.core.x.anyBacked(lo32(s), hi32(s), lo32(e), hi32(e)) !== 0;
  }

  /**
   * Puts `device` at physical [start, start + length). Refused (MappingError
   * MMIO_OVER_RAM / MMIO_OVERLAP) when RAM in the range holds data or another
   * device is there; the range then stays RAM.
   */
  mapDevice(start: Address, length: Address, device: Device): Handle {
    this.core.refuseShared("a device");
    const r = this.range(start, length, "device", true);
    if (typeof device?.read !== "function" || typeof device?.write !== "function") throw new ArgumentError("a device needs read(pa, size) and write(pa, size, value)");
    const other = this.devices.find((d) => overlaps(d, r.start, r.end));
    if (other) throw new MappingError("MMIO_OVERLAP", `device ${hex(r.start)}..${hex(r.end)} overlaps the device at ${hex(other.start)}..${hex(other.end)}`);
    if (this.backed(r)) throw new MappingError("MMIO_OVER_RAM", `device ${hex(r.start)}..${hex(r.end)} covers RAM that holds data; free those frames first`);
    const entry: DeviceEntry = { ...r, device };
    this.registering(this.devices, entry);
    return { remove: () => this.removeFrom(this.devices, entry) };
  }

  /**
   * Declares where RAM is: physical addresses outside `ram` and outside every
   * device are unmapped; they read as zero and ignore writes
   * (`unmapped: "zero"`, the default) or throw UnmappedPhysicalError
   * (`"fault"`). Without a layout, all of physical memory is RAM.
   */
  setLayout(layout: { ram: { start: Address; length: Address }[]; unmapped?: "zero" | "fault" } | undefined): void {
    this.core.refuseShared("a physical layout");
    if (layout === undefined) {
      this.ram = undefined;
      this.upload();
      return;
    }
    if (typeof layout !== "object" || layout === null || !Array.isArray(layout.ram)) throw new ArgumentError(`a physical layout is { ram: [{ start, length }], unmapped? } or undefined, not ${show(layout)}`);
    const ram = layout.ram.map((r) => {
      if (typeof r !== "object" || r === null) throw new ArgumentError(`a RAM range is { start, length }, not ${show(r)}`);
      return this.range(r.start, r.length, "RAM range", true);
    });
    for (const h of subtract(this.complement(ram), this.devices)) {
      if (this.backed(h)) throw new MappingError("MMIO_OVER_RAM", `physical ${hex(h.start)}..${hex(h.end)} holds data but the layout leaves it unmapped`);
    }
    if (layout.unmapped !== undefined && layout.unmapped !== "zero" && layout.unmapped !== "fault") {
      throw new ArgumentError(`unmapped must be "zero" or "fault", not ${show(layout.unmapped)}`);
    }
    const old = { ram: this.ram, faults: this.unmappedFaults };
    this.ram = ram;
    this.unmappedFaults = layout.unmapped === "fault";
    try {
      this.upload();
    } catch (e) {
      this.ram = old.ram;
      this.unmappedFaults = old.faults;
      this.upload();
      throw e;
    }
  }

  private complement(ram: Range[]): Range[] {
    const sorted = [...ram].sort((a, b) => (a.start < b.start ? -1 : 1));
    const out: Range[] = [];
    let at = 0n;
    for (const r of sorted) {
      if (r.start > at) out.push({ start: at, end: r.start });
      if (r.end > at) at = r.end;
    }
    const top = 1n << BigInt(this.maxPhyAddr());
    if (at < top) out.push({ start: at, end: top });
    return out;
  }

  /** Registers an access hook; see HookSpec. A refused spec (ArgumentError) registers nothing. */
  addHook(spec: HookSpec): Handle {
    this.core.refuseShared("an access hook");
    if (typeof spec !== "object" || spec === null) throw new ArgumentError(`a hook is { space, start, length, ops?, before?, after? }, not ${show(spec)}`);
    if (spec.space !== "linear" && spec.space !== "physical") throw new ArgumentError(`hook space must be "linear" or "physical", not ${show(spec.space)}`);
    const r = this.range(spec.start, spec.length, `${spec.space} hook`, spec.space === "physical");
    const ops = spec.ops ?? ["read", "write", "fetch"];
    if (!Array.isArray(ops)) throw new ArgumentError(`hook ops must be an array of "read", "write", "fetch", not ${show(ops)}`);
    for (const op of ops) if (op !== "read" && op !== "write" && op !== "fetch") throw new ArgumentError(`hook op ${show(op)} is not read, write or fetch`);
    for (const k of ["before", "after"] as const) {
      if (spec[k] !== undefined && typeof spec[k] !== "function") throw new ArgumentError(`hook ${k} must be a function, not ${show(spec[k])}`);
    }
    if (!spec.before && !spec.after) throw new ArgumentError("a hook needs a before or an after function");
    const entry: HookEntry = { ...r, space: spec.space, ops: new Set(ops), before: spec.before, after: spec.after };
    this.registering(this.hooks, entry);
    return { remove: () => this.removeFrom(this.hooks, entry) };
  }

  /** Adds `entry` to `list` and tells the core; when the core refuses (too many ranges), takes it out again and throws. */
  private registering<T>(list: T[], entry: T): void {
    list.push(entry);
    try {
      this.upload();
    } catch (e) {
      list.pop();
      this.upload();
      throw e;
    }
  }

  private removeFrom<T>(list: T[], entry: T): void {
    const i = list.indexOf(entry);
    if (i >= 0) {
      list.splice(i, 1);
      this.upload();
    }
  }

  /** Tells the core which pages are special (and flushes its TLB). */
  private upload(): void {
    const phys: Range[] = [...this.devices, ...this.hooks.filter((h) => h.space === "physical")];
    if (this.ram) phys.push(...this.complement(this.ram));
    const lin = this.hooks.filter((h) => h.space === "linear");
    for (const [kind, ranges] of [[SPECIAL_PHYS, pageRanges(phys)], [SPECIAL_LINEAR, pageRanges(lin)]] as const) {
      ranges.forEach((r, i) => {
        if (!this.core.x.specialSetRange(kind, i, lo32(r.start), hi32(r.start), lo32(r.end), hi32(r.end))) {
          throw new ArgumentError(`too many separate device/hook ranges (the core keeps 1024 of each kind)`);
        }
      });
      this.core.x.specialCommit(kind, ranges.length);
    }
  }

  // ---- Performing an access that left the fast path ----

  private hooksFor(space: "linear" | "physical", op: HookOp, start: bigint, end: bigint): HookEntry[] {
    return this.hooks.filter((h) => h.space === space && h.ops.has(op) && overlaps(h, start, end));
  }

  /**
   * Performs one guest access whose bytes are at the physical `pieces` (one,
   * or two for a page-crossing access): hooks before, the bytes (devices,
   * RAM, unmapped), hooks after. Returns the value for a read or fetch.
   *
   * Failures (docs: "Devices, hooks and failures"): a throwing before-hook or
   * an unmapped address that faults stops the access before any byte moves.
   * A write gives its RAM bytes storage, then performs its device pieces in
   * address order, then writes its RAM bytes: a device that throws leaves RAM
   * as it was (the device pieces before it were performed: I/O cannot be
   * undone). After-hooks run once the bytes have moved: one that throws
   * reports the error with the access performed, and later after-hooks of
   * that access do not run.
   */
  access(op: HookOp, va: bigint | undefined, pieces: { pa: bigint; len: number }[], cpl: 0 | 3, value?: bigint): bigint {
    const size = pieces.reduce((n, p) => n + p.len, 0);
    const event: AccessEvent = { op, va, pa: pieces[0]!.pa, size, cpl, value: op === "write" ? value : undefined };
    for (const p of pieces) this.checkMapped(p.pa, p.len, op);
    const fired = this.firing(op, va, pieces, size);
    for (const h of fired) if (h.before) this.callback("a before-hook", () => h.before!(event));
    let result = 0n;
    if (op === "write") {
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i++) bytes[i] = Number(((value ?? 0n) >> BigInt(8 * i)) & 0xffn);
      const parts: [bigint, Uint8Array][] = [];
      let at = 0;
      for (const p of pieces) {
        parts.push([p.pa, bytes.subarray(at, at + p.len)]);
        at += p.len;
      }
      for (const [pa, b] of parts) this.reserveRam(pa, b.length);
      for (const [pa, b] of parts) this.writeDevices(pa, b);
      for (const [pa, b] of parts) this.writeRam(pa, b, op);
    } else {
      const bytes = new Uint8Array(size);
      let at = 0;
      for (const p of pieces) {
        this.readBytes(p.pa, bytes.subarray(at, at + p.len), op);
        at += p.len;
      }
      for (let i = size - 1; i >= 0; i--) result = (result << 8n) | BigInt(bytes[i]!);
      event.value = result;
    }
    for (const h of fired) if (h.after) this.callback("an after-hook", () => h.after!(event));
    return result;
  }

  private firing(op: HookOp, va: bigint | undefined, pieces: { pa: bigint; len: number }[], size: number): HookEntry[] {
    if (this.hooks.length === 0) return [];
    const fired = va === undefined ? [] : this.hooksFor("linear", op, va, va + BigInt(size));
    for (const h of this.hooks) {
      if (h.space === "physical" && h.ops.has(op) && !fired.includes(h) && pieces.some((p) => overlaps(h, p.pa, p.pa + BigInt(p.len)))) fired.push(h);
    }
    return fired;
  }

  /** Throws UnmappedPhysicalError when [pa, pa + len) reaches unmapped space and the layout says it faults. */
  checkMapped(pa: bigint, len: number, op: HookOp): void {
    if (this.ram === undefined || !this.unmappedFaults) return;
    for (let p = pa; p < pa + BigInt(len); ) {
      if (this.isUnmapped(p) && !this.deviceAt(p)) throw new UnmappedPhysicalError(p, op);
      p = this.runEnd(p, pa + BigInt(len));
    }
  }

  /**
   * The pieces of a bulk copy that are on special pages, in two phases so that
   * nothing is written when a before-hook throws or an address faults:
   * `prepare` checks every piece and fires the before-hooks, then the caller
   * moves the bytes (copyPiece, which fires no hook), then the returned function fires the
   * after-hooks. Hooks fire once per piece (a page), with the piece's range.
   */
  prepare(op: "read" | "write", pieces: { va: bigint; pa: bigint; len: number }[], cpl: 0 | 3): () => void {
    for (const p of pieces) this.checkMapped(p.pa, p.len, op);
    const calls: [HookEntry, AccessEvent][] = [];
    for (const p of pieces) {
      const event: AccessEvent = { op, va: p.va, pa: p.pa, size: p.len, cpl };
      for (const h of this.firing(op, p.va, [p], p.len)) {
        if (h.before) this.callback("a before-hook", () => h.before!(event));
        calls.push([h, event]);
      }
    }
    return () => {
      for (const [h, e] of calls) if (h.after) this.callback("an after-hook", () => h.after!(e));
    };
  }

  /** A piece of a bulk copy on a special page, without hooks (see prepare): devices first, then RAM, as writeBytes. */
  copyPiece(op: "read" | "write", pa: bigint, bytes: Uint8Array): void {
    if (op === "write") this.writeBytes(pa, bytes, op);
    else this.readBytes(pa, bytes, op);
  }

  private deviceAt(pa: bigint): DeviceEntry | undefined {
    return this.devices.find((d) => pa >= d.start && pa < d.end);
  }

  private isUnmapped(pa: bigint): boolean {
    return this.ram !== undefined && !this.ram.some((r) => pa >= r.start && pa < r.end);
  }

  /** Where the run of bytes from `pa` of one kind (a device, RAM, unmapped) ends, at most `limit`. */
  private runEnd(pa: bigint, limit: bigint): bigint {
    let end = limit;
    for (const d of this.devices) {
      if (d.start > pa && d.start < end) end = d.start;
      if (pa >= d.start && pa < d.end && d.end < end) end = d.end;
    }
    if (this.ram) {
      for (const r of this.ram) {
        if (r.start > pa && r.start < end) end = r.start;
        if (pa >= r.start && pa < r.end && r.end < end) end = r.end;
      }
    }
    return end;
  }

  /**
   * Bytes at physical `pa` within one page, from RAM (directly, no special
   * check), a device (in naturally sized pieces of 8, 4, 2, 1 bytes) or
   * unmapped space.
   */
  readBytes(pa: bigint, out: Uint8Array, op: HookOp = "read"): void {
    let at = 0;
    while (at < out.length) {
      const p = pa + BigInt(at);
      const dev = this.deviceAt(p);
      if (dev) {
        const n = chunk(p, Math.min(out.length - at, Number(dev.end - p)));
        let v = deviceValue(this.callback("a device read", () => dev.device.read(p, n)), p, n);
        for (let i = 0; i < n; i++, v >>= 8n) out[at + i] = Number(v & 0xffn);
        at += n;
      } else if (this.isUnmapped(p)) {
        if (this.unmappedFaults) throw new UnmappedPhysicalError(p, op);
        const n = Number(this.runEnd(p, pa + BigInt(out.length)) - p);
        out.fill(0, at, at + n);
        at += n;
      } else {
        const n = Number(this.runEnd(p, minBig(pa + BigInt(out.length), pageEnd(p))) - p);
        const host = this.core.x.frameHost(lo32(p), hi32(p), false) >>> 0;
        if (host === 0) out.fill(0, at, at + n);
        else out.set(this.core.u8().subarray(host + Number(p & (PAGE - 1n)), host + Number(p & (PAGE - 1n)) + n), at);
        at += n;
      }
    }
  }

  /**
   * Writes bytes at physical `pa` within one page (RAM, a device, or unmapped
   * space): the RAM bytes get storage first (OutOfMemoryError, nothing
   * written), then the device pieces are written in order, then the RAM
   * bytes; a device that throws leaves RAM unwritten.
   */
  writeBytes(pa: bigint, data: Uint8Array, op: HookOp = "write"): void {
    this.reserveRam(pa, data.length);
    this.writeDevices(pa, data);
    this.writeRam(pa, data, op);
  }

  /** Visits the runs of [pa, pa + len) (within one page): a device's, unmapped space's, or RAM's. */
  private eachRun(pa: bigint, len: number, visit: (kind: "device" | "unmapped" | "ram", p: bigint, at: number, n: number, dev: DeviceEntry | undefined) => void): void {
    let at = 0;
    while (at < len) {
      const p = pa + BigInt(at);
      const dev = this.deviceAt(p);
      const n = dev
        ? Number(minBig(dev.end, pa + BigInt(len)) - p)
        : Number(this.runEnd(p, minBig(pa + BigInt(len), pageEnd(p))) - p);
      visit(dev ? "device" : this.isUnmapped(p) ? "unmapped" : "ram", p, at, n, dev);
      at += n;
    }
  }

  /** Gives the RAM bytes of [pa, pa + len) (one page) storage, so that writing them later cannot run out of memory. */
  reserveRam(pa: bigint, len: number): void {
    this.eachRun(pa, len, (kind, p) => {
      if (kind === "ram" && this.core.x.frameHost(lo32(p), hi32(p), true) === 0) throw new OutOfMemoryError(`storage for physical ${hex(p)}`);
    });
  }

  /** Writes the device pieces of `data` at physical `pa` (one page), in naturally sized pieces of 8, 4, 2, 1 bytes. */
  writeDevices(pa: bigint, data: Uint8Array): void {
    this.eachRun(pa, data.length, (kind, p, at, n, dev) => {
      if (kind !== "device") return;
      for (let done = 0; done < n; ) {
        const q = p + BigInt(done);
        const k = chunk(q, n - done);
        let v = 0n;
        for (let i = k - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[at + done + i]!);
        this.callback("a device write", () => dev!.device.write(q, k, v));
        done += k;
      }
    });
  }

  /**
   * Writes the RAM bytes of `data` at physical `pa` (one page); bytes on
   * unmapped space are dropped (or fault). Storage is looked up at the write
   * (and the write noted), as a device callback before it may have changed it.
   */
  writeRam(pa: bigint, data: Uint8Array, op: HookOp = "write"): void {
    this.eachRun(pa, data.length, (kind, p, at, n) => {
      if (kind === "unmapped" && this.unmappedFaults) throw new UnmappedPhysicalError(p, op);
      if (kind !== "ram") return;
      const host = this.core.x.frameHost(lo32(p), hi32(p), true) >>> 0;
      if (host === 0) throw new OutOfMemoryError(`storage for physical ${hex(p)}`);
      this.core.u8().set(data.subarray(at, at + n), host + Number(p & (PAGE - 1n)));
    });
  }
}

const minBig = (a: bigint, b: bigint): bigint => (a < b ? a : b);

/** What a device's read returned, as the access's `size` bytes: an integer (bigint or safe number; its low bytes), else DeviceError. */
function deviceValue(v: unknown, pa: bigint, size: number): bigint {
  if (typeof v === "bigint") return BigInt.asUintN(8 * size, v);
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt.asUintN(8 * size, BigInt(v));
  throw new DeviceError(pa, size, v);
}
const pageEnd = (pa: bigint): bigint => (pa & ~(PAGE - 1n)) + PAGE;

/** `ranges` minus every range of `cut`. */
function subtract(ranges: Range[], cut: Range[]): Range[] {
  let out = ranges.map((r) => ({ ...r }));
  for (const c of cut) {
    const next: Range[] = [];
    for (const r of out) {
      if (!overlaps(r, c.start, c.end)) next.push(r);
      else {
        if (r.start < c.start) next.push({ start: r.start, end: c.start });
        if (c.end < r.end) next.push({ start: c.end, end: r.end });
      }
    }
    out = next;
  }
  return out;
}

/** The largest naturally aligned access of at most `max` bytes at `pa` (8, 4, 2 or 1). */
function chunk(pa: bigint, max: number): BusSize {
  for (const n of [8, 4, 2] as const) if (max >= n && pa % BigInt(n) === 0n) return n;
  return 1;
}

const buses = new WeakMap<Core, Bus>();

/** The bus of a core (one per Mmu), for the copy engine's special pieces. */
export function busOf(core: Core): Bus | undefined {
  return buses.get(core);
}

export function registerBus(core: Core, bus: Bus): void {
  buses.set(core, bus);
}
