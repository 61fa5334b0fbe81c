/**
 * The architectural constants of x86-64 paging, written once and shared by the
 * WebAssembly core (AssemblyScript imports this file), the reference walker,
 * the host API and the trace output.
 *
 * Every value is a small integer so that the file is valid AssemblyScript and
 * valid TypeScript alike: bits at position 31 and above are given by position
 * (`*_BIT`), never as a mask that a JavaScript number could not hold exactly.
 * Sources: Intel SDM Vol. 3A, section 2.5 (control registers), 4.5 (4- and
 * 5-level paging, Tables 4-14 to 4-20) and 4.7 (page-fault exceptions).
 */

// ---- Paging-structure entry bits (Tables 4-15 .. 4-20) ----

/** Present: the entry maps a page or references a table; clear, every other bit is ignored. */
export const PTE_P_BIT = 0;
/** Read/write: clear in any entry of the walk makes the region read-only (for supervisor writes only when CR0.WP=1). */
export const PTE_RW_BIT = 1;
/** User/supervisor: clear in any entry of the walk makes the region supervisor-only. */
export const PTE_US_BIT = 2;
/** Page-level write-through (memory type; no effect on translation). */
export const PTE_PWT_BIT = 3;
/** Page-level cache disable (memory type; no effect on translation). */
export const PTE_PCD_BIT = 4;
/** Accessed: set by the processor the first time the entry is used by a translation. */
export const PTE_A_BIT = 5;
/** Dirty (leaf entries only): set by the processor on the first write to the page. */
export const PTE_D_BIT = 6;
/** Page size: in a PDPTE maps a 1 GiB page, in a PDE a 2 MiB page; reserved in PML5E/PML4E; PAT in a PTE. */
export const PTE_PS_BIT = 7;
/** Global (leaf entries only, CR4.PGE=1): the translation survives MOV to CR3. */
export const PTE_G_BIT = 8;
/** PAT bit of a 1 GiB or 2 MiB leaf (bit 12); the frame address starts above it. */
export const PTE_PAT_LARGE_BIT = 12;
/** Lowest bit of the 4-bit protection key of a leaf entry (bits 62:59, used when CR4.PKE or CR4.PKS is 1). */
export const PTE_PK_SHIFT = 59;
/** Execute-disable: set in any entry of the walk forbids instruction fetches (EFER.NXE=1; reserved when NXE=0). */
export const PTE_XD_BIT = 63;
/** Highest bit an entry can use for a physical address (MAXPHYADDR is at most 52). */
export const PTE_ADDR_TOP_BIT = 51;

// ---- Page-fault error code (section 4.7, Figure 4-12) ----

/** P: 0 = the fault came from a non-present entry; 1 = from a protection or reserved-bit violation. */
export const PFEC_P = 0x1;
/** W/R: the access was a write. */
export const PFEC_W = 0x2;
/** U/S: the access was a user-mode access (CPL 3). */
export const PFEC_U = 0x4;
/** RSVD: a reserved bit was set in some paging-structure entry. */
export const PFEC_RSVD = 0x8;
/** I/D: the access was an instruction fetch (reported only when EFER.NXE=1 or CR4.SMEP=1). */
export const PFEC_ID = 0x10;
/** PK: a protection key denied the data access. */
export const PFEC_PK = 0x20;
/** SS: the access was a shadow-stack access. */
export const PFEC_SS = 0x40;

// ---- Control registers and EFER (sections 2.5 and 2.2.1) ----

export const CR0_PE_BIT = 0;
/** Write protect: supervisor writes honour R/W=0. */
export const CR0_WP_BIT = 16;
export const CR0_PG_BIT = 31;

export const CR4_PSE_BIT = 4;
export const CR4_PAE_BIT = 5;
/** Global pages enabled. */
export const CR4_PGE_BIT = 7;
/** 57-bit linear addresses: 5-level paging. */
export const CR4_LA57_BIT = 12;
/** Process-context identifiers: CR3 bits 11:0 tag the TLB. */
export const CR4_PCIDE_BIT = 17;
/** Supervisor-mode execution prevention. */
export const CR4_SMEP_BIT = 20;
/** Supervisor-mode access prevention (lifted by EFLAGS.AC=1). */
export const CR4_SMAP_BIT = 21;
/** Protection keys for user-mode pages (PKRU). */
export const CR4_PKE_BIT = 22;
/** Protection keys for supervisor-mode pages (IA32_PKRS). */
export const CR4_PKS_BIT = 24;

export const EFER_LME_BIT = 8;
export const EFER_LMA_BIT = 10;
/** No-execute enable: makes bit 63 of entries the XD bit instead of reserved. */
export const EFER_NXE_BIT = 11;

/** CR3 bit 63 on MOV to CR3 with CR4.PCIDE=1: keep the new PCID's TLB entries. */
export const CR3_NOFLUSH_BIT = 63;

// ---- Accesses, as the core receives them (one packed i32) ----
//
//   bit  0..1  op: ACCESS_READ, ACCESS_WRITE, ACCESS_FETCH
//   bit  2     user: the access is made at CPL 3
//   bit  3     ac: EFLAGS.AC (SMAP is lifted for supervisor data accesses)
//   bit  4..7  size in bytes: 1, 2, 4 or 8 (0 means 1)

export const ACCESS_READ = 0;
export const ACCESS_WRITE = 1;
export const ACCESS_FETCH = 2;
export const ACCESS_OP_MASK = 0x3;
export const ACCESS_USER = 0x4;
export const ACCESS_AC = 0x8;
export const ACCESS_SIZE_SHIFT = 4;

// ---- Paging geometry ----

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;
/** Entries per table at every level of 4- and 5-level paging. */
export const ENTRIES_PER_TABLE = 512;
/** Level numbers, as the SDM counts them: 1 = PT, 2 = PD, 3 = PDPT, 4 = PML4, 5 = PML5. */
export const LEVEL_PT = 1;
export const LEVEL_PD = 2;
export const LEVEL_PDPT = 3;
export const LEVEL_PML4 = 4;
export const LEVEL_PML5 = 5;

/** Smallest and largest MAXPHYADDR the frame store accepts. */
export const MAXPHYADDR_MIN = 36;
export const MAXPHYADDR_MAX = 52;
