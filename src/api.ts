/**
 * The public API, shared by the Node.js entry (index.ts) and the browser
 * entry (browser.ts), which differ only in how they load the core.
 *
 * x86mmu: an x86-64 memory-management unit for JavaScript and TypeScript.
 *
 *     import { Mmu, LONG_MODE } from "x86mmu";
 *     const mmu = new Mmu();
 *     const pt = mmu.createPageTable();
 *     pt.map(0x400000n, 0x200000n, 0x1000n, { flags: { writable: true, user: true } });
 *     mmu.loadState({ ...LONG_MODE, cr3: pt.root });
 *     mmu.translate(0x400123n, { op: "read", cpl: 3 }); // 0x200123n
 */

export {
  Mmu, Batch, LONG_MODE, decodeBatchFault, MAX_FAULT_RETRIES,
  type CpuState, type Translation, type Probe, type AccessArg, type FaultHandler, type FaultContext,
} from "./mmu.js";
export { UnmappedPhysicalError, type Device, type HookSpec, type AccessEvent, type HookOp, type Handle, type BusSize } from "./bus.js";
export { DirtyLog, Snapshot, SnapshotError } from "./snapshot.js";
export { PhysicalMemory } from "./physical-memory.js";
export { PageTable, pteBits, PAGE_BYTES, type PageSize, type PteFlags, type MapOptions, type PageTableOptions } from "./page-table.js";
export { encodeAccess, withSize, type AccessSpec, type AccessOptions, type AccessOp, type AccessSize } from "./access.js";
export {
  X86MmuError, PageFault, GeneralProtection, OutOfMemoryError, PhysicalAddressError, ArgumentError, RegisterError, MappingError,
  describeErrorCode, type Fault,
} from "./errors.js";
export { hex, toU64, type Address } from "./address.js";
export * as bits from "./arch/bits.js";
export { CoreEngine } from "./scenario/core-engine.js";
export { ReferenceEngine } from "./reference/engine.js";
export { parseScenario, parseScenarioText, ScenarioError } from "./scenario/parse.js";
export { formatResult, formatResults } from "./scenario/format.js";
export type * from "./scenario/types.js";
export * from "./owner-guarded-io.js";
export * from "./page-map.js";
