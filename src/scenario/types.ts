/**
 * The scenario format, version 1 (docs/scenario-format.md, a public contract):
 * the typed form of one scenario after parsing, and of its result before
 * printing. Every 64-bit quantity is a `bigint`; JSON carries them as 0x-hex
 * strings.
 */

export type Op = "read" | "write" | "fetch";

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
}

export interface Scenario {
  name: string;
  cpu: CpuState;
  memory: MemoryRegion[];
  accesses: Access[];
}

/** One level of a walk, as `run --trace` prints it. */
export interface WalkStep {
  /** "PML5", "PML4", "PDPT", "PD" or "PT". */
  level: string;
  /** Physical address of the table. */
  table: bigint;
  /** Index of the entry in the table, 0..511. */
  index: number;
  /** Physical address of the entry (table + 8 * index). */
  entryAddr: bigint;
  /** The entry's value as the walk read it (before it set A or D). */
  entry: bigint;
  /** What the entry allows on its own: "W" (writes), "U" (user), "X" (fetches), "leaf 4K/2M/1G". */
  allows: string[];
  /** Why the walk stopped here, when it stopped with a fault at this level. */
  stop?: string;
}

export type AccessResult =
  | { ok: true; pa: bigint; value?: bigint; walk?: WalkStep[] }
  | { ok: false; fault: "PF"; errorCode: bigint; cr2: bigint; walk?: WalkStep[] }
  | { ok: false; fault: "GP"; errorCode: bigint; walk?: WalkStep[] };

export interface MemoryChange {
  paddr: bigint;
  value: bigint;
}

export interface ScenarioResult {
  name: string;
  results: AccessResult[];
  memory: MemoryChange[];
}

/** Something that can run a parsed scenario: the WebAssembly core or the reference walker. */
export interface ScenarioEngine {
  run(scenario: Scenario, options?: { trace?: boolean }): ScenarioResult;
}
