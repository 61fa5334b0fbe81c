/**
 * Readers and writers of memory, after OSTD's `ostd/src/mm/io` and vostd's
 * `VmReader` / `VmWriter`: a cursor and an end over bytes.
 *
 * Memory is valid for a copy when:
 * 1. over a `VmSpace` (the *fallible* `VmReader` / `VmWriter`): the token
 *    (`VmIoOwner`) behind the reader or writer is registered, activated, of
 *    the right kind, its range covers the bytes, and the space is active on
 *    its Mmu. Otherwise the copy throws `OwnershipError` and moves no byte.
 *    Past that gate a page may still be unmapped or forbid the access (as the
 *    SDM decides for the token's CPL): the copy then stops at the first such
 *    byte and reports the fault with the count copied before it.
 * 2. over a host `Uint8Array` (the *infallible* `InfallibleVmReader` /
 *    `InfallibleVmWriter`): always; the JavaScript buffer is the owner.
 *
 * Fallible and infallible forms are distinct classes, so a fallible reader
 * cannot be passed where an infallible `read` is expected.
 *
 * Every copy moves `min(remain, avail)` bytes and advances both cursors by the
 * number copied. `read`/`write` (infallible pairs) return that number;
 * `readFallible`/`writeFallible` return `{ copied, fault }` as OSTD's
 * `Result<usize, (Error, usize)>` does: `fault` is undefined on success, else
 * the PageFault (address, error code) or GeneralProtection that stopped the
 * copy, and `copied` the bytes before it.
 */

import { ArgumentError, type Fault, show, bytesOf } from "../base/index.js";
import { spaceToHost, hostToSpace, spaceToSpace, translatorsOf, type Translated } from "../mmu/index.js";
import type { VmIoOwner } from "./owner.js";
import type { VmSpace } from "./vm-space.js";

/** The outcome of a fallible copy: bytes copied, and the fault that stopped it (undefined: none). */
export interface CopyResult {
  copied: number;
  fault: Fault | undefined;
}

export type ValSize = 1 | 2 | 4 | 8;

function checkSize(size: number): ValSize {
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) throw new ArgumentError(`value size ${show(size)} is not 1, 2, 4 or 8`);
  return size;
}

function checkCount(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new ArgumentError(`${what} ${show(n)} is not a non-negative integer`);
  return n;
}

function encodeVal(size: ValSize, value: bigint | number): Uint8Array {
  let v: bigint;
  if (typeof value === "bigint") v = value;
  else if (Number.isSafeInteger(value)) v = BigInt(value);
  else throw new ArgumentError(`value ${show(value)} is not a safe integer: pass a bigint`);
  if (v < -(1n << BigInt(size * 8 - 1)) || v >= 1n << BigInt(size * 8)) throw new ArgumentError(`value ${show(value)} does not fit in ${size} bytes`);
  v = BigInt.asUintN(size * 8, v);
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

function decodeVal(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

function pattern(size: ValSize, value: bigint | number, n: number): Uint8Array {
  const unit = encodeVal(size, value);
  const out = new Uint8Array(n);
  if (size === 1) return out.fill(unit[0]!);
  for (let i = 0; i < n; i += size) out.set(unit, i);
  return out;
}

type AnyReader = VmReader | InfallibleVmReader;
type AnyWriter = VmWriter | InfallibleVmWriter;

/**
 * The one copy routine. Requires (gate, before any byte moves) both sides'
 * tokens to allow the bytes. Copies min(remain, avail) bytes page by page,
 * stopping at the first fault; advances both cursors by the count.
 */
function copy(r: AnyReader, w: AnyWriter): CopyResult {
  if (!(r instanceof VmReader || r instanceof InfallibleVmReader)) throw new ArgumentError(`a copy reads from a VmReader or InfallibleVmReader, not ${show(r)}`);
  if (!(w instanceof VmWriter || w instanceof InfallibleVmWriter)) throw new ArgumentError(`a copy writes to a VmWriter or InfallibleVmWriter, not ${show(w)}`);
  const n = Math.min(r.remain, w.avail);
  if (r instanceof VmReader) r.gate(n);
  if (w instanceof VmWriter) w.gate(n);
  if (n === 0) return { copied: 0, fault: undefined };
  let count = n;
  let fault: Fault | undefined;
  let src: Translated | undefined;
  let dst: Translated | undefined;
  if (r instanceof VmReader) {
    src = translatorsOf(r.space.core)[0].translate(r.cursor, n, r.space.readAccess);
    count = src.bytes;
    fault = src.fault;
  }
  if (w instanceof VmWriter && count > 0) {
    dst = translatorsOf(w.space.core)[1].translate(w.cursor, count, w.space.writeAccess);
    if (dst.bytes < count) {
      count = dst.bytes;
      fault = dst.fault;
    }
  }
  if (count > 0) {
    if (src && dst) spaceToSpace(src, dst, count);
    else if (src) spaceToHost(src, count, (w as InfallibleVmWriter).buffer, (w as InfallibleVmWriter).cursor);
    else if (dst) hostToSpace((r as InfallibleVmReader).buffer, (r as InfallibleVmReader).cursor, count, dst);
    else (w as InfallibleVmWriter).buffer.set((r as InfallibleVmReader).buffer.subarray(r.cursorOffset, r.cursorOffset + count), (w as InfallibleVmWriter).cursor);
  }
  r.advanceBy(count);
  w.advanceBy(count);
  if (r instanceof VmReader) r.space.owner.afterOp();
  if (w instanceof VmWriter && (!(r instanceof VmReader) || w.space !== r.space)) w.space.owner.afterOp();
  return { copied: count, fault };
}

/** Shared lifecycle of the token behind a fallible reader or writer. */
abstract class TokenHandle {
  protected cur: bigint;
  protected endVa: bigint;

  constructor(
    readonly space: VmSpace,
    /** The permission token (vostd `VmIoOwner`): id, range, kind, view. */
    readonly token: VmIoOwner,
  ) {
    this.cur = token.range.start;
    this.endVa = token.range.end;
  }

  /** The virtual address of the next byte. */
  get cursor(): bigint {
    return this.cur;
  }

  /** Same as `cursor`, for the shared copy routine. */
  get cursorOffset(): number {
    return Number(this.cur - this.token.range.start);
  }

  /** The end of the remaining range (exclusive). */
  get end(): bigint {
    return this.endVa;
  }

  /** Bytes left between cursor and end. */
  get remain(): number {
    return Number(this.endVa - this.cur);
  }

  /** @internal */
  advanceBy(n: number): void {
    if (checkCount(n, "advanceBy") > this.remain) throw new ArgumentError(`advanceBy(${n}) goes past the end: only ${this.remain} bytes remain`);
    this.cur += BigInt(n);
  }

  /**
   * OSTD `limit(max)`: if `max` < remain, the end moves to cursor + max; the
   * cursor is unchanged. Never grows the range.
   */
  limit(max: number): this {
    checkCount(max, "limit");
    if (max < this.remain) this.endVa = this.cur + BigInt(max);
    return this;
  }

  /** OSTD `skip(n)`: cursor += n. Throws ArgumentError (OSTD panics) when n > remain. */
  skip(n: number): this {
    checkCount(n, "skip");
    if (n > this.remain) throw new ArgumentError(`skip(${n}) goes past the end: only ${this.remain} bytes remain`);
    this.cur += BigInt(n);
    return this;
  }

  /** @internal The gate of a copy of n bytes from the cursor. */
  abstract gate(n: number): void;

  /** Activates the token (see VmSpaceOwner.activateReader / activateWriter). */
  abstract activate(): this;
  /** Disposes the token's view; it stays registered and can be activated again. */
  abstract dispose(): void;
  /** Removes the token for good (disposing its view first); every later use throws. */
  abstract remove(): void;

  /** Disposes and removes the token if it is still registered; does nothing otherwise. Idempotent. */
  close(): void {
    if (this.token.registered) this.remove();
  }

  /** `using r = space.reader(...)` closes the token at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * OSTD `VmReader<Fallible>`: reads a virtual range of a VmSpace through a
 * reader token. Create with `space.reader(va, len)` (created and activated)
 * or `space.createReader(va, len)` (explicit lifecycle).
 */
export class VmReader extends TokenHandle {
  /** @internal */
  gate(n: number): void {
    this.space.owner.gate(this.token, "reader", this.cur, this.cur + BigInt(n));
  }

  activate(): this {
    this.space.owner.activateReader(this.token);
    return this;
  }

  dispose(): void {
    this.space.owner.disposeReader(this.token);
  }

  remove(): void {
    this.space.owner.removeReader(this.token);
  }

  /**
   * OSTD `read_fallible`: copies into `writer` until this reader has no
   * remaining data, the writer has no space, or a page faults. Returns the
   * bytes copied and the fault (undefined on success); both cursors advance
   * by the count. Throws OwnershipError (nothing copied) if either token does
   * not allow the bytes.
   */
  readFallible(writer: VmWriter | InfallibleVmWriter): CopyResult {
    return copy(this, writer);
  }

  /**
   * OSTD `VmReader<Fallible>::read_val`: reads a little-endian value of
   * `size` bytes (a number for 1, 2, 4; a bigint for 8) and advances the
   * cursor. Throws ArgumentError (OSTD InvalidArgs) when fewer bytes remain,
   * and the PageFault / GeneralProtection when a page faults, with the cursor
   * rolled back.
   */
  readVal(size: 8): bigint;
  readVal(size: 1 | 2 | 4): number;
  readVal(size: ValSize): number | bigint;
  readVal(size: ValSize): number | bigint {
    checkSize(size);
    if (this.remain < size) throw new ArgumentError(`readVal(${size}) needs ${size} bytes, ${this.remain} remain (InvalidArgs)`);
    const saved = this.endVa;
    const buf = new Uint8Array(size);
    this.endVa = this.cur + BigInt(size);
    let res: CopyResult;
    try {
      res = copy(this, InfallibleVmWriter.from(buf));
    } finally {
      this.endVa = saved;
    }
    if (res.fault) {
      this.cur -= BigInt(res.copied);
      throw res.fault;
    }
    const v = decodeVal(buf);
    return size === 8 ? v : Number(v);
  }

  /** vostd `collect`: every remaining byte. On a fault, throws it with the cursor rolled back. */
  collect(): Uint8Array {
    const buf = new Uint8Array(this.remain);
    const res = copy(this, InfallibleVmWriter.from(buf));
    if (res.fault) {
      this.cur -= BigInt(res.copied);
      throw res.fault;
    }
    return buf;
  }
}

/**
 * OSTD `VmWriter<Fallible>`: writes a virtual range of a VmSpace through a
 * writer token. Create with `space.writer(va, len)` or `space.createWriter`.
 */
export class VmWriter extends TokenHandle {
  /** Bytes of space left (OSTD `avail`; same as `remain`). */
  get avail(): number {
    return this.remain;
  }

  /** @internal */
  gate(n: number): void {
    this.space.owner.gate(this.token, "writer", this.cur, this.cur + BigInt(n));
  }

  activate(): this {
    this.space.owner.activateWriter(this.token);
    return this;
  }

  dispose(): void {
    this.space.owner.disposeWriter(this.token);
  }

  remove(): void {
    this.space.owner.removeWriter(this.token);
  }

  /** OSTD `write_fallible`: `reader.readFallible(this)`. */
  writeFallible(reader: VmReader | InfallibleVmReader): CopyResult {
    return copy(reader, this);
  }

  /** Writes `data` (as much as fits) from the cursor: `writeFallible(InfallibleVmReader.from(data))`. */
  writeBytes(data: Uint8Array): CopyResult {
    return copy(InfallibleVmReader.from(data), this);
  }

  /**
   * OSTD `VmWriter<Fallible>::write_val`: writes `value` little-endian in
   * `size` bytes and advances. Throws ArgumentError (InvalidArgs) when less
   * space is left; on a fault throws it with the cursor rolled back (bytes
   * before the fault stay written, as in OSTD).
   */
  writeVal(size: ValSize, value: bigint | number): void {
    checkSize(size);
    const bytes = encodeVal(size, value);
    if (this.remain < size) throw new ArgumentError(`writeVal(${size}) needs ${size} bytes, ${this.remain} available (InvalidArgs)`);
    const res = copy(InfallibleVmReader.from(bytes), this);
    if (res.fault) {
      this.cur -= BigInt(res.copied);
      throw res.fault;
    }
  }

  /**
   * vostd `fill(value)`: writes `avail / size` copies of `value` up to the
   * end. Throws ArgumentError (vostd panics) when avail is not a multiple of
   * `size`. Fallible: returns the bytes written and the fault; the cursor
   * stays advanced by the count (as OSTD `fill_zeros`).
   */
  fill(value: bigint | number, size: ValSize = 1): CopyResult {
    checkSize(size);
    if (this.avail % size !== 0) throw new ArgumentError(`fill: ${this.avail} bytes available is not a multiple of ${size}`);
    return copy(InfallibleVmReader.from(pattern(size, value, this.avail)), this);
  }

  /** OSTD `fill_zeros(len)`: zeroes min(avail, len) bytes; returns the count and the fault. */
  fillZeros(len: number): CopyResult {
    checkCount(len, "fillZeros length");
    return copy(InfallibleVmReader.from(new Uint8Array(Math.min(len, this.avail))), this);
  }
}

/** A cursor over a host buffer. */
abstract class HostCursor {
  protected cur: number;
  protected endOff: number;

  constructor(readonly buffer: Uint8Array) {
    bytesOf(buffer, "a host reader's or writer's buffer");
    this.cur = 0;
    this.endOff = buffer.length;
  }

  /** Index in the buffer of the next byte. */
  get cursor(): number {
    return this.cur;
  }

  get cursorOffset(): number {
    return this.cur;
  }

  /** Bytes left between cursor and end. */
  get remain(): number {
    return this.endOff - this.cur;
  }

  /** @internal */
  advanceBy(n: number): void {
    if (checkCount(n, "advanceBy") > this.remain) throw new ArgumentError(`advanceBy(${n}) goes past the end: only ${this.remain} bytes remain`);
    this.cur += n;
  }

  /** OSTD `limit(max)`. */
  limit(max: number): this {
    checkCount(max, "limit");
    if (max < this.remain) this.endOff = this.cur + max;
    return this;
  }

  /** OSTD `skip(n)`; throws ArgumentError (OSTD panics) when n > remain. */
  skip(n: number): this {
    checkCount(n, "skip");
    if (n > this.remain) throw new ArgumentError(`skip(${n}) goes past the end: only ${this.remain} bytes remain`);
    this.cur += n;
    return this;
  }
}

/** OSTD `VmReader<Infallible>` over a host buffer (`VmReader::from(&[u8])`). */
export class InfallibleVmReader extends HostCursor {
  static from(bytes: Uint8Array): InfallibleVmReader {
    return new InfallibleVmReader(bytes);
  }

  /** OSTD `read`: copies min(remain, avail) bytes into `writer`; returns the count. */
  read(writer: InfallibleVmWriter): number {
    return copy(this, writer).copied;
  }

  /** OSTD `read_fallible` into a fallible writer: see VmReader.readFallible. */
  readFallible(writer: VmWriter | InfallibleVmWriter): CopyResult {
    return copy(this, writer);
  }

  /** Reads a little-endian value; throws ArgumentError (InvalidArgs) when fewer than `size` bytes remain. */
  readVal(size: 8): bigint;
  readVal(size: 1 | 2 | 4): number;
  readVal(size: ValSize): number | bigint;
  readVal(size: ValSize): number | bigint {
    checkSize(size);
    if (this.remain < size) throw new ArgumentError(`readVal(${size}) needs ${size} bytes, ${this.remain} remain (InvalidArgs)`);
    const v = decodeVal(this.buffer.subarray(this.cur, this.cur + size));
    this.cur += size;
    return size === 8 ? v : Number(v);
  }
}

/** OSTD `VmWriter<Infallible>` over a host buffer (`VmWriter::from(&mut [u8])`). */
export class InfallibleVmWriter extends HostCursor {
  static from(bytes: Uint8Array): InfallibleVmWriter {
    return new InfallibleVmWriter(bytes);
  }

  /** Bytes of space left (OSTD `avail`). */
  get avail(): number {
    return this.remain;
  }

  /** OSTD `write`: `reader.read(this)`. */
  write(reader: InfallibleVmReader): number {
    return copy(reader, this).copied;
  }

  /** OSTD `write_fallible` from a fallible reader: see VmReader.readFallible. */
  writeFallible(reader: VmReader | InfallibleVmReader): CopyResult {
    return copy(reader, this);
  }

  /** Writes a little-endian value; throws ArgumentError (InvalidArgs) when less than `size` bytes are left. */
  writeVal(size: ValSize, value: bigint | number): void {
    checkSize(size);
    const bytes = encodeVal(size, value);
    if (this.remain < size) throw new ArgumentError(`writeVal(${size}) needs ${size} bytes, ${this.remain} available (InvalidArgs)`);
    this.buffer.set(bytes, this.cur);
    this.cur += size;
  }

  /** vostd `fill`: avail / size copies of `value`; returns the bytes written. Throws ArgumentError when avail % size != 0. */
  fill(value: bigint | number, size: ValSize = 1): number {
    checkSize(size);
    if (this.avail % size !== 0) throw new ArgumentError(`fill: ${this.avail} bytes available is not a multiple of ${size}`);
    const n = this.avail;
    this.buffer.set(pattern(size, value, n), this.cur);
    this.cur += n;
    return n;
  }

  /** OSTD `fill_zeros(len)`: zeroes min(avail, len) bytes; returns the count. */
  fillZeros(len: number): number {
    checkCount(len, "fillZeros length");
    const n = Math.min(len, this.avail);
    this.buffer.fill(0, this.cur, this.cur + n);
    this.cur += n;
    return n;
  }
}

