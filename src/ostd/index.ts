/**
 * ostd — owner-guarded memory I/O, as Asterinas OSTD's `ostd::mm` specifies
 * it in its verified version (vostd): VmSpace and its cursor, VmSpaceOwner,
 * MemView, VmIoOwner, VmReader/VmWriter (fallible over a space, infallible
 * over host memory) and the interval index behind the overlap checks. What
 * vostd proves statically is checked here at run time (docs/owner-guarded-io.md).
 * Imports mmu and below.
 */

export { VmSpace, CursorMut, MAX_USERSPACE_VADDR, PAGE_TABLE_FRAME_RULE, type VmSpaceOptions, type SpaceMapOptions } from "./vm-space.js";
export {
  VmSpaceOwner, VmIoOwner, OwnershipError, AccessDenied, PhysRegistry, physRegistryFor, rangeText,
  type VmIoKind, type VmIoMemView, type VRange, type PageTableOwner,
} from "./owner.js";
export { MemView, MemViewError, type Mapping, type ViewPiece, type ViewTranslation } from "./mem-view.js";
export { VmReader, VmWriter, InfallibleVmReader, InfallibleVmWriter, type CopyResult, type ValSize } from "./io.js";
export { IntervalIndex } from "./interval-index.js";
