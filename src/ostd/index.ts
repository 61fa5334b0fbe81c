/**
 * Owner-guarded memory I/O (OSTD/vostd model): every export of the feature in
 * one module. src/index.ts re-exports it (see docs/owner-guarded-io.md).
 */

export { VmSpace, CursorMut, MAX_USERSPACE_VADDR, type VmSpaceOptions, type SpaceMapOptions } from "./vm-space.js";
export {
  VmSpaceOwner, VmIoOwner, OwnershipError, AccessDenied, PhysRegistry, physRegistryFor, rangeText,
  type VmIoKind, type VmIoMemView, type VRange, type PageTableOwner,
} from "./owner.js";
export { MemView, MemViewError, type Mapping, type ViewPiece, type ViewTranslation } from "./mem-view.js";
export { VmReader, VmWriter, InfallibleVmReader, InfallibleVmWriter, type CopyResult, type ValSize } from "./io.js";
export { IntervalIndex } from "./interval-index.js";
