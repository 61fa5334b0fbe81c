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
  Mmu, Batch, LONG_MODE, NASID, decodeBatchFault, MAX_FAULT_RETRIES, pagingModeOf,
  type CpuState, type PagingMode, type TlbStats, type TlbEntry, type NestedState, type SavedRegisters, type Translation, type Probe, type AccessArg, type FaultHandler, type FaultContext,
} from "./mmu/index.js";
export { UnmappedPhysicalError, DeviceError, type Device, type HookSpec, type AccessEvent, type HookOp, type Handle, type BusSize } from "./phys/index.js";
export { DirtyLog, Snapshot, SnapshotError } from "./phys/index.js";
export { PhysicalMemory } from "./phys/index.js";
export { loadImage, detectImageFormat, compressionOf, SPARSE_RECORD_BYTES, type ImageFormat, type ImageOptions, type ImageInfo } from "./phys/index.js";
export { PageTable, pteBits, PAGE_BYTES, type PageSize, type PteFlags, type MapOptions, type PageTableOptions } from "./mmu/index.js";
export { LegacyPageTable, LEGACY_PAGE_BYTES, type LegacyMode, type LegacyPageSize, type LegacyMapOptions, type LegacyPageTableOptions } from "./mmu/index.js";
export { encodeAccess, withSize, type AccessSpec, type AccessOptions, type AccessOp, type AccessSize } from "./mmu/index.js";
export {
  X86MmuError, PageFault, GeneralProtection, NestedPageFault, OutOfMemoryError, PhysicalAddressError, ArgumentError, RegisterError, MappingError, ReentrancyError, ImageError, MAX_CALLBACK_DEPTH,
  describeErrorCode, describeExitInfo1, type Fault,
} from "./base/index.js";
export { hex, toU64, type Address } from "./base/index.js";
export * as bits from "./arch/bits.js";
export { CoreEngine } from "./scenario/index.js";
export { ReferenceEngine } from "./reference/index.js";
export { parseScenario, parseScenarioText, ScenarioError } from "./scenario/index.js";
export { formatResult, formatResults } from "./scenario/index.js";
export type * from "./scenario/types.js";
export * from "./ostd/index.js";
export * from "./inspect/index.js";
export * from "./machine/index.js";
