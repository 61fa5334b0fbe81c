/**
 * Every error x86mmu throws is an `X86MmuError` with a stable `code`. Faults
 * the guest would see (#PF, #GP) are their own classes so an emulator can
 * deliver them; everything else says what was wrong with the call and what to
 * do. An operation that throws has changed nothing, except where its doc says
 * so (a faulting access keeps the accessed flags its walk set, as hardware does).
 */

import { PFEC_P, PFEC_W, PFEC_U, PFEC_RSVD, PFEC_ID, PFEC_PK, PFEC_SS } from "../arch/index.js";
import { hex } from "./hex.js";

export class X86MmuError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The names of the page-fault error-code bits, lowest first (SDM 4.7). */
const PFEC_NAMES: [number, string][] = [
  [PFEC_P, "P"], [PFEC_W, "W"], [PFEC_U, "U"], [PFEC_RSVD, "RSVD"], [PFEC_ID, "I/D"], [PFEC_PK, "PK"], [PFEC_SS, "SS"],
];

/** "P|W|U" for 0x7; "0" for a not-present read in supervisor mode. */
export function describeErrorCode(code: number): string {
  const names = PFEC_NAMES.filter(([bit]) => (code & bit) !== 0).map(([, n]) => n);
  // No bit set: a supervisor-mode read (not a fetch) of a page that was not present.
  return names.length ? names.join("|") : "not present, supervisor read";
}

/** A page fault (#PF): `errorCode` as the SDM defines it, `cr2` the faulting linear address. */
export class PageFault extends X86MmuError {
  constructor(
    readonly errorCode: number,
    readonly cr2: bigint,
  ) {
    super("PAGE_FAULT", `#PF at ${hex(cr2)}, error code ${hex(BigInt(errorCode))} (${describeErrorCode(errorCode)})`);
  }
  get present(): boolean { return (this.errorCode & PFEC_P) !== 0; }
  get write(): boolean { return (this.errorCode & PFEC_W) !== 0; }
  get user(): boolean { return (this.errorCode & PFEC_U) !== 0; }
  get reserved(): boolean { return (this.errorCode & PFEC_RSVD) !== 0; }
  get fetch(): boolean { return (this.errorCode & PFEC_ID) !== 0; }
  get protectionKey(): boolean { return (this.errorCode & PFEC_PK) !== 0; }
}

/** A general-protection fault (#GP(0)): here, a non-canonical linear address. */
export class GeneralProtection extends X86MmuError {
  constructor(
    readonly address: bigint,
    reason = "non-canonical linear address",
  ) {
    super("GENERAL_PROTECTION", `#GP(0) at ${hex(address)}: ${reason}`);
  }
  readonly errorCode = 0;
}

/** The names of EXITINFO1's bits for a nested page fault (AMD APM 15.25.6). */
const EXITINFO1_NAMES: [bigint, string][] = [
  [0n, "P"], [1n, "RW"], [2n, "US"], [3n, "RSVD"], [4n, "ID"], [32n, "FINAL"], [33n, "TABLE"],
];

/** "P|RW|US|TABLE" for 0x200000007. */
export function describeExitInfo1(info: bigint): string {
  const names = EXITINFO1_NAMES.filter(([b]) => ((info >> b) & 1n) !== 0n).map(([, n]) => n);
  // No bit set: a supervisor-mode read (not a fetch) of a page that was not present.
  return names.length ? names.join("|") : "not present, supervisor read";
}

/**
 * A nested page fault, #VMEXIT(NPF) (AMD SVM nested paging, APM 15.25.6): a
 * guest-physical address did not translate through the host's nested
 * tables. `exitinfo1` says why (P, RW, US, RSVD, ID in bits 4:0; bit 32: the
 * access's final gPA, bit 33: a guest table entry's gPA); `exitinfo2` is the
 * guest-physical address being translated.
 */
export class NestedPageFault extends X86MmuError {
  constructor(
    readonly exitinfo1: bigint,
    readonly exitinfo2: bigint,
    /** The guest-linear address whose translation faulted (not in the VMCB; for the embedder). */
    readonly linear: bigint,
  ) {
    super("NESTED_PAGE_FAULT", `#VMEXIT(NPF) at guest-physical ${hex(exitinfo2)}, EXITINFO1 ${hex(exitinfo1)} (${describeExitInfo1(exitinfo1)})`);
  }
}

/** A fault the guest (or, for NestedPageFault, its hypervisor) would see. */
export type Fault = PageFault | GeneralProtection | NestedPageFault;

/** Linear memory (at most 4 GiB in wasm32) could not grow: nothing was written. */
export class OutOfMemoryError extends X86MmuError {
  constructor(what: string, advice = "the frame store holds at most 4 GiB of touched frames (free frames or reset memory)") {
    super("OUT_OF_MEMORY", `out of memory: ${what}; ${advice}`);
  }
}

/** A physical address at or above 2^MAXPHYADDR. */
export class PhysicalAddressError extends X86MmuError {
  constructor(pa: bigint, len: bigint, maxPhyAddr: number) {
    super("PHYS_RANGE", `physical range ${hex(pa)}+${hex(len)} reaches past 2^${maxPhyAddr} (MAXPHYADDR ${maxPhyAddr})`);
  }
}

/** A value that is not a valid address, length or register value for the call. */
export class ArgumentError extends X86MmuError {
  constructor(message: string) {
    super("INVALID_ARGUMENT", message);
  }
}

/** A register value the MMU refuses, as the processor would with #GP on the MOV (reserved bits, an unsupported mode). */
export class RegisterError extends X86MmuError {
  /** `code` is INVALID_REGISTER, or PDPTE_RESERVED when a PDPTE loaded under PAE paging sets a reserved bit (the instruction's #GP(0)). */
  constructor(message: string, code = "INVALID_REGISTER") {
    super(code, message);
  }
}

/** A mapping change that conflicts with what is there: a page already mapped, a large page split, a device over RAM or over another device. */
export class MappingError extends X86MmuError {
  constructor(code: "ALREADY_MAPPED" | "SPLITS_LARGE_PAGE" | "NO_FRAME" | "MMIO_OVERLAP" | "MMIO_OVER_RAM", message: string) {
    super(code, message);
  }
}

/**
 * A re-entrant use x86mmu refuses: callbacks (device, hook, fault handler)
 * nested deeper than MAX_CALLBACK_DEPTH (a callback that performs the access
 * that called it), or a Batch used again by a callback while one of its own
 * calls runs. Nothing of the refused call was done.
 */
export class ReentrancyError extends X86MmuError {
  constructor(message: string) {
    super("REENTRANCY", message);
  }
}

/** How deep device, hook and fault-handler callbacks may nest (each level an access made from inside a callback). */
export const MAX_CALLBACK_DEPTH = 32;

/**
 * A memory image (src/phys/image.ts) that cannot be loaded: truncated, or not
 * of the format given or detected. `offset` is the byte offset in the image
 * where the problem lies (a record, a header field, a segment's data).
 */
export class ImageError extends X86MmuError {
  constructor(
    readonly offset: number,
    message: string,
    code: "IMAGE_TRUNCATED" | "IMAGE_MALFORMED" | "IMAGE_COMPRESSED" = "IMAGE_MALFORMED",
  ) {
    super(code, `image offset ${offset} (0x${offset.toString(16)}): ${message}`);
  }
}
