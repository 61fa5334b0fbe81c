/**
 * The scenario format, version 2 (docs/scenario-format.md, a public contract):
 * the typed form of one scenario after parsing, and of its result before
 * printing. Every 64-bit quantity is a `bigint`; JSON carries them as 0x-hex
 * strings.
 */

export type Op = "read" | "write" | "fetch";

/**
 * The paging mode a scenario's `cpu` selects (version 2; SDM 4.1.1): from
 * CR0.PG, CR4.PAE, EFER.LME, and CR4.LA57 in long mode. Not a field of the
 * input: `pagingMode(cpu)` in parse.ts derives it.
 */
export type PagingMode = "none" | "32-bit" | "pae" | "4-level" | "5-level";

export interface CpuState {
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  /** PKRU, protection-key rights for user pages; default 0. */
  pkru: bigint;
  /** IA32_PKRS, protection-key rights for supervisor pages; default 0. */
  pkrs: bigint;
  /** The physical-address width, 36..52; default 52. */
  maxphyaddr: number;
  /**
   * Nested paging (AMD SVM NPT, docs/nested-paging.md): present, the other
   * registers are the nested guest's, its CR3 and guest entries hold
   * guest-physical addresses, and memory is host-physical. Absent: no nesting.
   */
  npt?: NptState;
}

/** The host's side of nested paging (`cpu.npt`): what the VMCB and the host's EFER give the nested walk. */
export interface NptState {
  /** nCR3: the root of the 4-level nested tables, host-physical (bits 51:12 used). */
  ncr3: bigint;
  /** The host's EFER.NXE: bit 63 of a nested entry is XD (1) or reserved (0); default true. */
  nxe: boolean;
}

/** One region of physical memory: `qwords` little-endian 64-bit words from `paddr` on. */
export type MemoryRegion =
  | { paddr: bigint; qwords: bigint[] }
  | { paddr: bigint; fill: bigint; count: number };

export interface Access {
  va: bigint;
  op: Op;
  /** 1, 2, 4 or 8; always 1 for a fetch. */
  size: 1 | 2 | 4 | 8;
  cpl: 0 | 3;
  /** EFLAGS.AC. */
  ac: boolean;
  /** The value a write stores (little-endian, `size` bytes); 0 for reads and fetches. */
  value: bigint;
  /** Several CPUs (the extension): the CPU that makes the access (default 0). */
  cpu?: number;
}

/**
 * The TLB extension (docs/scenario-format.md, "TLB steps"): an instruction
 * that changes what the TLB may hold, between accesses. A scenario with a
 * step keeps its TLB across accesses (the format's flush before every access
 * no longer applies), so stale translations can be shown.
 */
export type TlbStep =
  /** MOV to CR3: with CR4.PCIDE=1, bit 63 keeps the new PCID's entries; under PAE it loads the PDPTEs. */
  | { step: "mov_cr3"; value: bigint }
  /** INVLPG: the page's entries (every PCID's global ones too) and the paging-structure caches. */
  | { step: "invlpg"; va: bigint }
  /** INVPCID type 0 (one address of a PCID), 1 (a PCID), 2 (all, globals too), 3 (all but globals). */
  | { step: "invpcid"; type: 0 | 1 | 2 | 3; pcid: number; va: bigint }
  /** A store to physical memory that invalidates nothing (an OS changing a PTE): `size` bytes of `value`. */
  | { step: "store"; paddr: bigint; value: bigint; size: 1 | 2 | 4 | 8 }
  /** Every TLB entry, global ones too (a MOV to CR4 that toggles CR4.PGE). */
  | { step: "flush" }
  /** Several CPUs: posts `invalidations` to `targets`, each performing them before its next item (SDM 4.10.5). */
  | { step: "shootdown"; targets: number[]; invalidations: Invalidate[] };

/** What a shootdown asks its targets to run. */
export type Invalidate = { step: "invlpg"; va: bigint } | { step: "invpcid"; type: 0 | 1 | 2 | 3; pcid: number; va: bigint } | { step: "flush" };

/** A step of a scenario of several CPUs says which CPU runs it (default 0). */
export type SequenceItem = Access | (TlbStep & { cpu?: number });

export interface Scenario {
  name: string;
  cpu: CpuState;
  memory: MemoryRegion[];
  /** The accesses, in order (without the TLB steps between them). */
  accesses: Access[];
  /**
   * With TLB steps (the TLB extension): every item of the input's `accesses`
   * in order, accesses and steps; a result is printed per item. Absent for a
   * scenario without steps.
   */
  sequence?: SequenceItem[];
  /**
   * Several CPUs (the extension): how many (2..64). Each item runs on its
   * `cpu`, with that CPU's registers and TLB; `sequence` is then always set.
   */
  cpus?: number;
}

/** What a TLB step did: done, or #GP(0) (a MOV to CR3 or INVPCID the processor refuses; nothing changed). */
export type StepResult = ({ ok: true; step: TlbStep["step"] } | { ok: false; fault: "GP"; errorCode: bigint; step: TlbStep["step"] }) & { cpu?: number };

/** One level of a walk, as `run --trace` prints it. */
export interface WalkStep {
  /**
   * "PML5", "PML4", "PDPT", "PD" or "PT" (4-level and 5-level paging);
   * "PDE", "PTE" (32-bit paging); "PDPTE", "PDE", "PTE" (PAE paging, where the
   * PDPTE step shows the PDPTE register loaded before the access).
   */
  level: string;
  /** Physical address of the table. */
  table: bigint;
  /** Index of the entry in the table: 0..511; 0..1023 with 32-bit paging; 0..3 for a PAE PDPTE. */
  index: number;
  /** Physical address of the entry (table + 8 * index; table + 4 * index with 32-bit paging). */
  entryAddr: bigint;
  /** The entry's value as the walk read it (before it set A or D). */
  entry: bigint;
  /** What the entry allows on its own: "W" (writes), "U" (user), "X" (fetches), "leaf 4K/2M/1G". */
  allows: string[];
  /** Why the walk stopped here, when it stopped with a fault at this level. */
  stop?: string;
  /**
   * Nested paging only: on a step of a nested walk, the guest-physical
   * address that walk translates (its `table` and `entryAddr` are
   * host-physical). Absent on a guest step, whose `table` and `entryAddr` are
   * then guest-physical.
   */
  gpa?: bigint;
}

/**
 * Nested paging: one guest level of a 2-D walk, for views that lay the walk
 * out as a grid (guest levels down, nested levels across).
 */
export interface NestedGuestLevel {
  /** Guest-physical address of the guest entry (guest table + 8 * index). */
  gpa: bigint;
  /** The nested walk that translated `gpa` (as a user write). */
  nested: WalkStep[];
  /** Host-physical address of the guest entry; absent when that nested walk faulted. */
  hpa?: bigint;
  /** The guest entry as read (guest-physical `table` / `entryAddr`); absent when that nested walk faulted. */
  guest?: WalkStep;
}

/** Nested paging: the 2-D walk of one page of an access, level by level. */
export interface NestedWalk {
  /** The guest levels visited, top first. */
  levels: NestedGuestLevel[];
  /** The final gPA's nested walk (the access's own type); absent when the guest walk faulted first. */
  final?: { gpa: bigint; nested: WalkStep[]; hpa?: bigint };
}

export type AccessResult = (
  | { ok: true; pa: bigint; value?: bigint; walk?: WalkStep[]; nestedWalk?: NestedWalk[] }
  | { ok: false; fault: "PF"; errorCode: bigint; cr2: bigint; walk?: WalkStep[]; nestedWalk?: NestedWalk[] }
  | { ok: false; fault: "GP"; errorCode: bigint; walk?: WalkStep[]; nestedWalk?: NestedWalk[] }
  | NestedPageFault
) & {
  /** With TLB steps (the TLB extension): whether the TLB served every page of the access ("hit") or a walk was made ("miss"). */
  tlb?: "hit" | "miss";
  /** Several CPUs (the extension): the CPU that made the access. */
  cpu?: number;
};

/**
 * Nested paging: a nested page fault, #VMEXIT(NPF) (APM 15.25.6). With
 * `--trace`, `walk` holds the flat 2-D walk and `nestedWalk` the same steps
 * per page walked (one or two), by guest level.
 */
export interface NestedPageFault {
  ok: false;
  fault: "NPF";
  /** EXITINFO1: P, RW, US, RSVD, ID (bits 0..4); bit 32 final gPA, bit 33 guest table entry. */
  exitinfo1: bigint;
  /** EXITINFO2: the guest-physical address whose translation faulted. */
  exitinfo2: bigint;
  walk?: WalkStep[];
  nestedWalk?: NestedWalk[];
}

export interface MemoryChange {
  paddr: bigint;
  value: bigint;
}

export interface ScenarioResult {
  name: string;
  /** One per access; with TLB steps, one per item of `sequence` (a StepResult for a step). */
  results: (AccessResult | StepResult)[];
  memory: MemoryChange[];
}

/** Something that can run a parsed scenario: the WebAssembly core or the reference walker. */
export interface ScenarioEngine {
  run(scenario: Scenario, options?: { trace?: boolean }): ScenarioResult;
}
