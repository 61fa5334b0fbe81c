/**
 * Access to the parts of an `Mmu` that owner-guarded I/O needs and the public
 * API does not expose yet: its WebAssembly `Core` (for `translateRange` and
 * bulk copies in linear memory).
 *
 * TODO(x86mmu): `Mmu.core` is private; once src/mmu.ts exposes it as
 * `/** @internal *\/ get coreInstance(): Core`, use that here instead.
 */

import type { Core } from "./core.js";
import type { Mmu } from "./mmu.js";

export function coreOf(mmu: Mmu): Core {
  const core = (mmu as unknown as { core?: Core }).core;
  if (!core || typeof core.u8 !== "function") throw new Error("x86mmu: this Mmu does not expose its core (internal API changed)");
  return core;
}
