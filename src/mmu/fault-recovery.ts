/**
 * Fault recovery: handlers an embedder registers with `Mmu.onFault` see a
 * #PF or #GP before it is thrown and may fix the cause (map the page, grow a
 * stack) and ask for the access to be tried again.
 */

import { ACCESS_FETCH, ACCESS_OP_MASK, ACCESS_SIZE_SHIFT, ACCESS_USER, ACCESS_WRITE } from "../arch/index.js";
import { ArgumentError, type Fault } from "../base/index.js";
import type { Handle, HookOp } from "../phys/index.js";

/** What a fault handler learns about the access that faulted. */
export interface FaultContext {
  va: bigint;
  op: HookOp;
  size: number;
  cpl: 0 | 3;
}

/**
 * Called when an access faults. Return "retry" after fixing the cause (e.g.
 * mapping the page) to perform the access again; anything else delivers the
 * fault. At most MAX_FAULT_RETRIES retries per access.
 */
export type FaultHandler = (fault: Fault, access: FaultContext) => "retry" | void;

export const MAX_FAULT_RETRIES = 8;

/** The fault handlers of one Mmu, called in the order they were added. */
export class FaultHandlers {
  private list: FaultHandler[] = [];
  /** Runs each handler call (the Mmu's bus bounds how deep callbacks nest). */
  guard: <T>(fn: () => T) => T = (fn) => fn();

  /** True when at least one handler is registered (the fast paths skip recovery otherwise). */
  get any(): boolean {
    return this.list.length !== 0;
  }

  add(handler: FaultHandler): Handle {
    if (typeof handler !== "function") throw new ArgumentError("a fault handler must be a function");
    this.list.push(handler);
    return {
      remove: () => {
        this.list = this.list.filter((h) => h !== handler);
      },
    };
  }

  /** Offers `fault` of the access (`va`, encoded `acc`) to the handlers; true when one asks to retry. */
  retry(fault: Fault, va: bigint, acc: number): boolean {
    const ctx = contextOf(va, acc);
    for (const h of [...this.list]) if (this.guard(() => h(fault, ctx)) === "retry") return true;
    return false;
  }
}

export function opOf(acc: number): HookOp {
  const op = acc & ACCESS_OP_MASK;
  return op === ACCESS_WRITE ? "write" : op === ACCESS_FETCH ? "fetch" : "read";
}

function contextOf(va: bigint, acc: number): FaultContext {
  return { va, op: opOf(acc), size: (acc >> ACCESS_SIZE_SHIFT) & 15 || 1, cpl: (acc & ACCESS_USER) !== 0 ? 3 : 0 };
}
