/**
 * The interface between the WebAssembly core and the host layer: status codes
 * and the layout of the mailbox, the small fixed area of linear memory through
 * which the core returns what does not fit in one return value (a fault's
 * error code and address, the high half of an 8-byte value).
 *
 * Like bits.ts, this file is valid AssemblyScript and TypeScript alike.
 *
 *     mailbox (48 bytes):
 *     +0  u32 status      one of STATUS_*
 *     +4  u32 errorCode   page-fault error code (0 for #GP)
 *     +8  u64 faultAddr   CR2: the linear address that faulted
 *     +16 u32 valueHi     bits 63:32 of an 8-byte value read
 *     +20 u32 level       leaf level of the last translation (1 = 4 KiB, 2 = 2 MiB, 3 = 1 GiB)
 *     +24 u64 pa          a physical address returned by the last call
 *     +32 u32 rights      after a probe: bit 0 user, bit 1 writable, bit 2 XD, bits 7:4 protection key
 *     +36 u32 exitInfo1Hi after a nested page fault: EXITINFO1 bits 63:32 (bit 32 final gPA, 33 guest table)
 *     +40 u64 leaf        after a probe: the leaf entry's value
 */

export const STATUS_OK = 0;
/** A page fault: errorCode and faultAddr say which. */
export const STATUS_PF = 1;
/** A general-protection fault (non-canonical linear address). */
export const STATUS_GP = 2;
/** Linear memory is exhausted: nothing was written. */
export const STATUS_NO_MEMORY = 3;
/** A physical address at or above 2^MAXPHYADDR. */
export const STATUS_PHYS_RANGE = 4;
/** A page-table helper found a page already mapped in its range. */
export const STATUS_ALREADY_MAPPED = 5;
/** A page-table helper's range splits a larger page. */
export const STATUS_SPLITS_LARGE_PAGE = 6;
/** The guest frame allocator has no free frame below 2^MAXPHYADDR. */
export const STATUS_NO_FRAME = 7;
/** The access reaches a device (MMIO) or hooked page: the host performs it (MB_PA: physical address of its first byte). */
export const STATUS_SPECIAL = 8;
/** A nested page fault (NPT): EXITINFO1 in errorCode (bits 31:0) and MB_EXITINFO1_HI (bits 63:32), EXITINFO2 in faultAddr. */
export const STATUS_NPF = 9;

export const MB_STATUS = 0;
export const MB_ERROR_CODE = 4;
export const MB_FAULT_ADDR = 8;
export const MB_VALUE_HI = 16;
export const MB_LEVEL = 20;
export const MB_PA = 24;
export const MB_RIGHTS = 32;
export const MB_LEAF = 40;
export const MB_EXITINFO1_HI = 36;
export const MAILBOX_BYTES = 48;

/**
 * The threads build (build/core.threads.wasm): how many CPUs may share one
 * memory at once, and the bytes of each one's own buffers (assembly/percpu.ts).
 */
export const MAX_SHARED_CPUS = 64;
export const PERCPU_BYTES = 360448;
/** The threads build's shared memory: its initial size in 64 KiB pages (asconfig.json's initialMemory) and its maximum (4 GiB). */
export const THREADS_INITIAL_PAGES = 704;
export const THREADS_MAXIMUM_PAGES = 65536;

/**
 * A batch translation's output word for a faulting address: bit 63 set, the
 * status (STATUS_PF or STATUS_GP) in bits 47:32, the error code in bits 31:0,
 * and bit 62 set when the fault is on the second page of a crossing access.
 * For a nested page fault (STATUS_NPF) bits 31:0 are EXITINFO1's and bits
 * 61:60 its bits 33:32; EXITINFO2 is not in the word (Mmu.translateBatch
 * probes the address again to report it).
 */
export const BATCH_FAULT_BIT = 63;
export const BATCH_SECOND_PAGE_BIT = 62;

/** A range segment, as translateRange/physRange write them: u64 pa, u32 host (0 = never written), u32 length. */
export const SEGMENT_BYTES = 16;
/** Set in a segment's length word when the piece is on a device or hooked page (host 0): the host performs it. */
export const SEGMENT_SPECIAL = 0x80000000;
