/**
 * The parts of an `Mmu` that owner-guarded I/O needs and the public API does
 * not expose: its WebAssembly `Core` (for `translateRange` and bulk copies in
 * linear memory).
 */

import type { Core } from "../core/index.js";
import type { Mmu } from "./mmu.js";

export function coreOf(mmu: Mmu): Core {
  return mmu.coreInstance;
}
