/**
 * What one CPU asks another to invalidate in a TLB shootdown (SDM 4.10.5,
 * "Propagation of Paging-Structure Changes to Multiple Processors"): the
 * instructions the target runs in its interrupt handler. The processor has no
 * cross-CPU invalidation of its own; an OS sends an IPI and the target CPUs
 * execute INVLPG, INVPCID or a flush themselves.
 */

import { ArgumentError, show, toU64, type Address } from "../base/index.js";
import type { Mmu } from "../mmu/index.js";

export type Invalidation =
  /** INVLPG of `va` (the current PCID's entries for the page, and global ones; the paging-structure caches). */
  | { readonly kind: "invlpg"; readonly va: Address }
  /** INVPCID of `type` (0 address, 1 single context, 2 all contexts with globals, 3 all contexts but globals). */
  | { readonly kind: "invpcid"; readonly type: 0 | 1 | 2 | 3; readonly pcid?: number; readonly va?: Address }
  /** Every entry, global ones too, for every PCID (what toggling CR4.PGE does). */
  | { readonly kind: "flush" };

/** Checks an invalidation up front, so a shootdown is refused before anything is posted. */
export function checkInvalidation(inv: unknown, what: string): Invalidation {
  if (typeof inv !== "object" || inv === null) throw new ArgumentError(`${what} is { kind: "invlpg" | "invpcid" | "flush", ... }, not ${show(inv)}`);
  const o = inv as Record<string, unknown>;
  switch (o.kind) {
    case "invlpg":
      toU64(o.va as Address, `${what}.va`);
      return inv as Invalidation;
    case "invpcid": {
      if (o.type !== 0 && o.type !== 1 && o.type !== 2 && o.type !== 3) throw new ArgumentError(`${what}.type is 0, 1, 2 or 3 (the INVPCID types), not ${show(o.type)}`);
      if (o.pcid !== undefined && (!Number.isInteger(o.pcid) || (o.pcid as number) < 0 || (o.pcid as number) > 0xfff)) throw new ArgumentError(`${what}.pcid is an integer in 0..4095, not ${show(o.pcid)}`);
      if (o.va !== undefined) toU64(o.va as Address, `${what}.va`);
      return inv as Invalidation;
    }
    case "flush":
      return inv as Invalidation;
    default:
      throw new ArgumentError(`${what}.kind is "invlpg", "invpcid" or "flush", not ${show(o.kind)}`);
  }
}

/** Performs `inv` on the CPU whose registers and TLB `mmu` holds now. */
export function perform(mmu: Mmu, inv: Invalidation): void {
  if (inv.kind === "invlpg") mmu.invlpg(inv.va);
  else if (inv.kind === "invpcid") mmu.invpcid(inv.type, inv.pcid ?? 0, inv.va ?? 0n);
  else mmu.flushTlb();
}
