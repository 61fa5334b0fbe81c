/**
 * Memory images: physical memory saved by an emulator or a tool, loaded into
 * a `PhysicalMemory` (docs/images.md). Three formats:
 *
 * - `sparse`: records of `<u64 little-endian physical address><4096 bytes>`,
 *   one page each (the format of the Linux samples in test/fixtures/linux).
 * - `raw`: a flat dump, byte i at physical address `base + i` (QEMU's
 *   `pmemsave ADDR SIZE FILE`, `dd` of /dev/mem, ...).
 * - `elf`: an ELF core as QEMU's `dump-guest-memory` writes it (ELF64 or
 *   ELF32, little-endian, x86-64 or i386): every PT_LOAD segment's
 *   `p_filesz` bytes at `p_offset` land at physical `p_paddr` (the rest of
 *   `p_memsz` reads as zero); notes and section headers are not needed.
 *
 * Nothing is copied that need not be: a page of zeros is not written (a frame
 * never written reads as zero and takes no storage), unless the frame already
 * holds data, which the image then overwrites with its zeros. Runs of
 * consecutive pages are written with one call each.
 *
 * Compressed images (xz, gzip) are recognised by their magic and refused here;
 * the command line decompresses `.gz` and `.xz` files before loading them.
 */

import { PAGE_SIZE } from "../arch/index.js";
import { type Address, toU64, hex, ArgumentError, ImageError, PhysicalAddressError } from "../base/index.js";
import type { PhysicalMemory } from "./physical-memory.js";

/** The formats `loadImage` reads. */
export type ImageFormat = "sparse" | "raw" | "elf";

export interface ImageOptions {
  /** The format; default "auto": detected from the content (`detectImageFormat`). */
  format?: ImageFormat | "auto";
  /** For a raw dump: the physical address of its first byte (default 0; 4 KiB aligned). */
  base?: Address;
}

/** What `loadImage` did. */
export interface ImageInfo {
  format: ImageFormat;
  /** Pages (4 KiB, or the pieces of a page an unaligned ELF segment covers) written to memory. */
  pagesWritten: number;
  /** Pages of the image that were all zero and not written (their frames read as zero). */
  zeroPagesSkipped: number;
  /** Bytes of physical memory the image describes (records, the dump's length, or the segments' p_filesz). */
  bytes: number;
  /** Sparse: records; ELF: PT_LOAD segments; raw: 1. */
  pieces: number;
}

/** The size of one sparse record: the address and the page. */
export const SPARSE_RECORD_BYTES = 8 + PAGE_SIZE;

const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const GZIP_MAGIC = [0x1f, 0x8b];
const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

const startsWith = (b: Uint8Array, magic: number[]): boolean => b.length >= magic.length && magic.every((m, i) => b[i] === m);

/** "xz" or "gzip" when `bytes` start with that format's magic, else undefined. */
export function compressionOf(bytes: Uint8Array): "xz" | "gzip" | undefined {
  if (startsWith(bytes, XZ_MAGIC)) return "xz";
  if (startsWith(bytes, GZIP_MAGIC)) return "gzip";
  return undefined;
}

const view = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/**
 * The format of an image, from its content: `elf` when it starts with the ELF
 * magic; `sparse` when its length is a non-zero multiple of 4104 and the
 * records' addresses are 4 KiB aligned and strictly ascending; else `raw`.
 */
export function detectImageFormat(bytes: Uint8Array): ImageFormat {
  if (startsWith(bytes, ELF_MAGIC)) return "elf";
  if (bytes.length > 0 && bytes.length % SPARSE_RECORD_BYTES === 0) {
    const dv = view(bytes);
    let last = -1n;
    let ok = true;
    for (let at = 0; at < bytes.length; at += SPARSE_RECORD_BYTES) {
      const pa = dv.getBigUint64(at, true);
      if ((pa & BigInt(PAGE_SIZE - 1)) !== 0n || pa <= last) {
        ok = false;
        break;
      }
      last = pa;
    }
    if (ok) return "sparse";
  }
  return "raw";
}

/** Whether `len` bytes of `b` from `at` are all zero. */
function allZero(b: Uint8Array, at: number, len: number): boolean {
  const start = b.byteOffset + at;
  if (start % 4 === 0 && len % 4 === 0) {
    const w = new Uint32Array(b.buffer, start, len / 4);
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) return false;
    return true;
  }
  for (let i = at; i < at + len; i++) if (b[i] !== 0) return false;
  return true;
}

/**
 * Writes image bytes to physical memory a page at a time, skipping pages of
 * zeros whose frames hold nothing, and joining consecutive pages into one
 * write. `flush()` writes what is pending.
 */
class PageWriter {
  private readonly backed: Set<bigint>;
  /** The pending run: physical start, and the image bytes [from, to). */
  private runPa = 0n;
  private runFrom = 0;
  private runTo = 0;
  /** Where the pending run came from in the image (for an error). */
  private runOffset = 0;
  written = 0;
  skipped = 0;

  constructor(
    private readonly memory: PhysicalMemory,
    private readonly bytes: Uint8Array,
  ) {
    this.backed = new Set(memory.frames());
  }

  /** The bytes [at, at+len) of the image go to physical `pa`; the piece lies within one 4 KiB frame. */
  piece(pa: bigint, at: number, len: number, offset = at): void {
    if (allZero(this.bytes, at, len) && !this.backed.has(pa & ~BigInt(PAGE_SIZE - 1))) {
      this.skipped++;
      return;
    }
    this.written++;
    if (this.runTo > this.runFrom && at === this.runTo && pa === this.runPa + BigInt(this.runTo - this.runFrom) && this.runTo - this.runFrom < 1 << 24) {
      this.runTo += len;
      return;
    }
    this.flush();
    this.runPa = pa;
    this.runFrom = at;
    this.runTo = at + len;
    this.runOffset = offset;
  }

  flush(): void {
    if (this.runTo <= this.runFrom) return;
    const data = this.bytes.subarray(this.runFrom, this.runTo);
    const pa = this.runPa;
    this.runTo = this.runFrom;
    try {
      this.memory.writeBytes(pa, data);
    } catch (e) {
      if (e instanceof PhysicalAddressError) throw new ImageError(this.runOffset, `physical address ${hex(pa)}+${hex(BigInt(data.length))} lies at or above 2^MAXPHYADDR (${this.memory.maxPhyAddr})`);
      throw e;
    }
  }

  /** `len` image bytes from `at` to physical `pa` on, cut at frame boundaries. */
  range(pa: bigint, at: number, len: number): void {
    while (len > 0) {
      const inFrame = PAGE_SIZE - Number(pa & BigInt(PAGE_SIZE - 1));
      const n = Math.min(inFrame, len);
      this.piece(pa, at, n);
      pa += BigInt(n);
      at += n;
      len -= n;
    }
  }
}

/**
 * Loads a memory image into `memory` (see the module comment for the
 * formats). Pages of zeros are skipped, so the frames they describe read as
 * zero without storage. Throws ImageError, naming the byte offset, for a
 * compressed image, a truncated one (a partial sparse record, an ELF header or
 * segment past the end), a malformed one (a sparse record's address not 4 KiB
 * aligned, an ELF that is not little-endian x86), or a physical address at
 * or above 2^MAXPHYADDR; ArgumentError for bad options. Pages written before
 * an error stay written.
 */
export function loadImage(memory: PhysicalMemory, bytes: Uint8Array, options: ImageOptions = {}): ImageInfo {
  if (!(bytes instanceof Uint8Array)) throw new ArgumentError("an image is a Uint8Array (or a Buffer) of its bytes");
  if (typeof options !== "object" || options === null) throw new ArgumentError("image options are { format?, base? }");
  const format = options.format ?? "auto";
  if (!["auto", "sparse", "raw", "elf"].includes(format)) throw new ArgumentError(`image format "${String(format)}" is not auto, sparse, raw or elf`);
  const compressed = compressionOf(bytes);
  if (compressed) throw new ImageError(0, `the image is ${compressed}-compressed: decompress it first (${compressed === "xz" ? "xz -d" : "gunzip"}; the x86mmu command line reads .gz and .xz files itself)`, "IMAGE_COMPRESSED");
  const base = options.base === undefined ? 0n : toU64(options.base, "image base address");
  if (base % BigInt(PAGE_SIZE) !== 0n) throw new ArgumentError(`image base address ${hex(base)} is not 4 KiB aligned`);
  if (options.base !== undefined && format !== "raw" && !(format === "auto" && detectImageFormat(bytes) === "raw")) throw new ArgumentError("a base address applies to a raw image only");
  const f = format === "auto" ? detectImageFormat(bytes) : format;
  const w = new PageWriter(memory, bytes);
  let pieces = 1;
  let described = bytes.length;
  if (f === "sparse") pieces = loadSparse(w, bytes);
  else if (f === "raw") w.range(base, 0, bytes.length);
  else [pieces, described] = loadElf(w, bytes);
  w.flush();
  return { format: f, pagesWritten: w.written, zeroPagesSkipped: w.skipped, bytes: f === "sparse" ? pieces * PAGE_SIZE : described, pieces };
}

function loadSparse(w: PageWriter, bytes: Uint8Array): number {
  const dv = view(bytes);
  const whole = Math.floor(bytes.length / SPARSE_RECORD_BYTES) * SPARSE_RECORD_BYTES;
  if (whole !== bytes.length) {
    throw new ImageError(whole, `truncated sparse image: the last record has ${bytes.length - whole} of its ${SPARSE_RECORD_BYTES} bytes (<u64 address><4096 bytes> records)`, "IMAGE_TRUNCATED");
  }
  for (let at = 0; at < bytes.length; at += SPARSE_RECORD_BYTES) {
    const pa = dv.getBigUint64(at, true);
    if ((pa & BigInt(PAGE_SIZE - 1)) !== 0n) throw new ImageError(at, `sparse record ${at / SPARSE_RECORD_BYTES}: physical address ${hex(pa)} is not 4 KiB aligned`);
    w.piece(pa, at + 8, PAGE_SIZE, at);
  }
  return bytes.length / SPARSE_RECORD_BYTES;
}

const EM_386 = 3;
const EM_X86_64 = 62;
const PT_LOAD = 1;
const PN_XNUM = 0xffff;

/** Loads an ELF core's PT_LOAD segments; returns [segments, bytes they hold]. */
function loadElf(w: PageWriter, bytes: Uint8Array): [number, number] {
  const dv = view(bytes);
  const need = (at: number, len: number, what: string): void => {
    if (at + len > bytes.length) throw new ImageError(Math.min(at, bytes.length), `truncated ELF: ${what} needs bytes ${at}..${at + len - 1}, the file has ${bytes.length}`, "IMAGE_TRUNCATED");
  };
  need(0, 16, "the identification");
  if (!startsWith(bytes, ELF_MAGIC)) throw new ImageError(0, "not an ELF file (no \\x7fELF magic)");
  const cls = bytes[4];
  if (cls !== 1 && cls !== 2) throw new ImageError(4, `ELF class ${cls} is neither ELFCLASS32 (1) nor ELFCLASS64 (2)`);
  if (bytes[5] !== 1) throw new ImageError(5, "the ELF file is not little-endian (EI_DATA must be ELFDATA2LSB)");
  const is64 = cls === 2;
  need(0, is64 ? 64 : 52, "the ELF header");
  const machine = dv.getUint16(18, true);
  if (machine !== EM_X86_64 && machine !== EM_386) throw new ImageError(18, `e_machine ${machine} is not x86 (62 EM_X86_64 or 3 EM_386)`);
  const u = (at: number): number => (is64 ? Number(dv.getBigUint64(at, true)) : dv.getUint32(at, true));
  const phoff = u(is64 ? 32 : 28);
  const shoff = u(is64 ? 40 : 32);
  const phentsize = dv.getUint16(is64 ? 54 : 42, true);
  let phnum = dv.getUint16(is64 ? 56 : 44, true);
  const minEnt = is64 ? 56 : 32;
  if (phnum > 0 && phentsize < minEnt) throw new ImageError(is64 ? 54 : 42, `e_phentsize ${phentsize} is smaller than a program header (${minEnt} bytes)`);
  if (phnum === PN_XNUM) {
    // More than 65534 headers: the count is section header 0's sh_info.
    const info = shoff + (is64 ? 44 : 28);
    need(info, 4, "section header 0 (e_phnum is PN_XNUM)");
    phnum = dv.getUint32(info, true);
  }
  need(phoff, phnum * phentsize, `${phnum} program headers at e_phoff ${phoff}`);
  let segments = 0;
  let total = 0;
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (dv.getUint32(ph, true) !== PT_LOAD) continue;
    const offset = u(ph + (is64 ? 8 : 4));
    const paddr = is64 ? dv.getBigUint64(ph + 24, true) : BigInt(dv.getUint32(ph + 12, true));
    const filesz = u(ph + (is64 ? 32 : 16));
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(filesz) || offset + filesz > bytes.length) {
      throw new ImageError(ph, `truncated ELF: PT_LOAD segment ${i} (p_paddr ${hex(paddr)}) has p_offset ${offset} + p_filesz ${filesz} past the end of the file (${bytes.length} bytes)`, "IMAGE_TRUNCATED");
    }
    w.range(paddr, offset, filesz);
    segments++;
    total += filesz;
  }
  return [segments, total];
}
