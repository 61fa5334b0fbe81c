/**
 * An access as the MMU checks it: the operation, its size, the privilege
 * level and EFLAGS.AC. The core receives it packed in one integer (see
 * src/arch/bits.ts); `encodeAccess` builds that once so a hot loop can reuse it.
 */

import { ACCESS_READ, ACCESS_WRITE, ACCESS_FETCH, ACCESS_USER, ACCESS_AC, ACCESS_SIZE_SHIFT } from "../arch/index.js";
import { ArgumentError, show } from "../base/index.js";

export type AccessOp = "read" | "write" | "fetch";
export type AccessSize = 1 | 2 | 4 | 8;

export interface AccessOptions {
  /** Privilege level: 0 (supervisor, the default) or 3 (user). */
  cpl?: 0 | 3;
  /** EFLAGS.AC: lifts SMAP for supervisor data accesses. Default false. */
  ac?: boolean;
}

export interface AccessSpec extends AccessOptions {
  op: AccessOp;
  /** Bytes, 1 (default), 2, 4 or 8; a fetch is always 1. */
  size?: AccessSize;
}

const OPS: Record<AccessOp, number> = { read: ACCESS_READ, write: ACCESS_WRITE, fetch: ACCESS_FETCH };

/** Packs an access for the core. Throws ArgumentError for an unknown op, size or CPL. */
export function encodeAccess(spec: AccessSpec): number {
  if (typeof spec !== "object" || spec === null) throw new ArgumentError(`an access is { op, size?, cpl?, ac? } or a number from encodeAccess, not ${show(spec)}`);
  const op = typeof spec.op === "string" && Object.hasOwn(OPS, spec.op) ? OPS[spec.op] : undefined;
  if (op === undefined) throw new ArgumentError(`access op ${show(spec.op)} is not "read", "write" or "fetch"`);
  const size = spec.size ?? 1;
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) throw new ArgumentError(`access size ${show(size)} is not 1, 2, 4 or 8`);
  if (spec.op === "fetch" && size !== 1) throw new ArgumentError(`a fetch has size 1, not ${size}`);
  const cpl = spec.cpl ?? 0;
  if (cpl !== 0 && cpl !== 3) throw new ArgumentError(`cpl ${show(cpl)} is not 0 or 3`);
  return op | (cpl === 3 ? ACCESS_USER : 0) | (spec.ac ? ACCESS_AC : 0) | (size << ACCESS_SIZE_SHIFT);
}

/**
 * `encodeAccess({ op, size, ...options })` without building the object: the
 * bigint read/write/fetch calls encode their access on every call. Same
 * checks and errors; `options` may be undefined.
 */
export function encodeWith(op: AccessOp, size: unknown, options: AccessOptions | undefined): number {
  if (options === undefined) return encodeAccess({ op, size: size as AccessSize });
  if (typeof options !== "object" || options === null) throw new ArgumentError(`access options are { cpl?, ac? }, not ${show(options)}`);
  return encodeAccess({ op, size: size as AccessSize, cpl: options.cpl, ac: options.ac });
}

/** The same access with another size (the low bits unchanged). */
export function withSize(access: number, size: AccessSize): number {
  checkAccess(access);
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8) throw new ArgumentError(`access size ${show(size)} is not 1, 2, 4 or 8`);
  if ((access & 3) === ACCESS_FETCH && size !== 1) throw new ArgumentError(`a fetch has size 1, not ${size}`);
  return (access & ~(15 << ACCESS_SIZE_SHIFT)) | (size << ACCESS_SIZE_SHIFT);
}

/**
 * ACCESS_VALID[n] is 1 when n is an access number encodeAccess can make (op
 * read/write/fetch, size 1, 2, 4 or 8 — 0 meaning 1 —, a fetch of size 1,
 * CPL and AC bits): one typed-array load checks a raw number on the fast
 * paths, and a non-integer or out-of-range index reads undefined.
 */
const ACCESS_VALID = new Uint8Array(256);
for (let n = 0; n < 256; n++) {
  const op = n & 3;
  const size = (n >> ACCESS_SIZE_SHIFT) & 15;
  const sizeOk = size === 0 || size === 1 || size === 2 || size === 4 || size === 8;
  ACCESS_VALID[n] = op !== 3 && sizeOk && (op !== ACCESS_FETCH || size <= 1) ? 1 : 0;
}

/**
 * ACCESS_KIND[n]: bit 0 set when n is valid, bit 1 when it can be a
 * loadNumber access (a read or fetch of 1, 2 or 4 bytes), bit 2 a
 * storeNumber one (a write of 1, 2 or 4 bytes): the number paths check an
 * access with one load (see checkLoadNumber / checkStoreNumber).
 */
const ACCESS_KIND = new Uint8Array(256);
for (let n = 0; n < 256; n++) {
  if (ACCESS_VALID[n] !== 1) continue;
  const size = (n >> ACCESS_SIZE_SHIFT) & 15;
  const write = (n & 3) === ACCESS_WRITE;
  ACCESS_KIND[n] = 1 | (size !== 8 && !write ? 2 : 0) | (size !== 8 && write ? 4 : 0);
}

/** Throws ArgumentError unless `access` is a read or fetch of 1, 2 or 4 bytes (loadNumber's accesses). */
export function checkLoadNumber(access: number): void {
  if (typeof access === "number" && (ACCESS_KIND[access]! & 2) !== 0) return;
  if (checkAccess(access) & ACCESS_WRITE) throw new ArgumentError("loadNumber needs a read or fetch access, not a write");
  throw new ArgumentError("loadNumber reads 1, 2 or 4 bytes; use read() or a batch for 8");
}

/** Throws ArgumentError unless `access` is a write of 1, 2 or 4 bytes (storeNumber's accesses, whose size it returns). */
export function checkStoreNumber(access: number): number {
  if (typeof access === "number" && (ACCESS_KIND[access]! & 4) !== 0) return (access >> ACCESS_SIZE_SHIFT) & 15 || 1;
  if ((checkAccess(access) & 3) !== ACCESS_WRITE) throw new ArgumentError("storeNumber needs a write access (encodeAccess({ op: \"write\", ... }))");
  throw new ArgumentError("storeNumber stores 1, 2 or 4 bytes; use write() for 8");
}

/** Throws ArgumentError unless `access` is a valid access number (see encodeAccess). */
export function checkAccess(access: number, what = "access"): number {
  if (typeof access !== "number" || ACCESS_VALID[access] !== 1) throw new ArgumentError(`${what} ${show(access)} is not an access number from encodeAccess (op read/write/fetch, size 1, 2, 4 or 8)`);
  return access;
}
