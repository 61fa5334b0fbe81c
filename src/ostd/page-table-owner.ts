/**
 * vostd's `page_table_owner` at run time: a walk of one space's page-table
 * tree in physical memory that lists its leaf mappings as a `MemView` and
 * checks that the tree is well formed. `VmSpaceOwner.inv()` compares the walk
 * with the total view (`mvRange`): the page table must map exactly it.
 *
 * The walk covers the space's *domain* (the top-level slots it owns: the
 * lower half for a user space, the upper half for a kernel space); a user
 * space that shares a kernel half must hold the kernel's top-level entries
 * unchanged.
 */

import { PTE_P_BIT, PTE_RW_BIT, PTE_US_BIT, PTE_PWT_BIT, PTE_PCD_BIT, PTE_G_BIT, PTE_PK_SHIFT, PTE_XD_BIT, PTE_PS_BIT } from "../arch/index.js";
import { hex } from "../base/index.js";
import { MemView, type ViewPiece } from "./mem-view.js";
import type { PageTableOwner } from "./owner.js";
import type { PhysicalMemory } from "../phys/index.js";

const b = (n: number): bigint => 1n << BigInt(n);

/** The leaf bits a view records: P, R/W, U/S, PWT, PCD, G, PK and XD (never A, D, PS or PAT). */
export const VIEW_FLAG_MASK = b(PTE_P_BIT) | b(PTE_RW_BIT) | b(PTE_US_BIT) | b(PTE_PWT_BIT) | b(PTE_PCD_BIT) | b(PTE_G_BIT) | (15n << BigInt(PTE_PK_SHIFT)) | b(PTE_XD_BIT);
/** The bits protect() replaces. */
export const PROTECT_MASK = b(PTE_RW_BIT) | b(PTE_US_BIT) | b(PTE_XD_BIT) | (15n << BigInt(PTE_PK_SHIFT));
const ADDR_MASK = 0x000ffffffffff000n;

export class WalkedPageTableOwner implements PageTableOwner {
  constructor(
    private readonly memory: PhysicalMemory,
    readonly root: bigint,
    readonly levels: 4 | 5,
    /** Top-level slots [lo, hi) the space owns. */
    private readonly slots: [number, number],
    /** Another root whose top-level entries outside `slots` must be copied here (a shared kernel half). */
    private readonly sharedFrom?: { root: bigint; slots: [number, number] },
  ) {}

  private table(pa: bigint): DataView {
    const bytes = this.memory.readBytes(pa, 4096);
    return new DataView(bytes.buffer, bytes.byteOffset, 4096);
  }

  /** The physical addresses of the space's tables: the root and every table reached through its domain. */
  tables(): bigint[] {
    return [...this.scan().tables];
  }

  private scan(): { view: MemView; problems: string[]; tables: Set<bigint> } {
    const pieces: ViewPiece[] = [];
    const problems: string[] = [];
    const seen = new Set<bigint>();
    const top = this.levels === 5 ? 56 : 47;
    const visit = (tablePa: bigint, level: number, base: bigint, lo: number, hi: number): void => {
      if (seen.has(tablePa)) {
        problems.push(`table ${hex(tablePa)} is reached twice (not a tree)`);
        return;
      }
      seen.add(tablePa);
      const dv = this.table(tablePa);
      const shift = BigInt(12 + 9 * (level - 1));
      for (let i = lo; i < hi; i++) {
        const e = dv.getBigUint64(i * 8, true);
        if ((e & 1n) === 0n) continue;
        let va = base | (BigInt(i) << shift);
        if ((va >> BigInt(top)) & 1n) va |= ~((1n << BigInt(top + 1)) - 1n) & ((1n << 64n) - 1n);
        const ps = (e >> BigInt(PTE_PS_BIT)) & 1n;
        if (level === 1 || ((level === 2 || level === 3) && ps)) {
          const size = 1n << shift;
          const pa = e & ADDR_MASK & ~(size - 1n);
          if (level > 1 && (e & ADDR_MASK & (size - 1n) & ~0x1000n) !== 0n) problems.push(`large leaf at ${hex(va)} has reserved address bits set`);
          pieces.push({ start: va, end: va + size, pa, pageSize: size, flags: e & VIEW_FLAG_MASK });
        } else if (ps) {
          problems.push(`level-${level} entry for ${hex(va)} sets PS (reserved)`);
        } else {
          visit(e & ADDR_MASK, level - 1, va, 0, 512);
        }
      }
    };
    visit(this.root, this.levels, 0n, this.slots[0], this.slots[1]);
    let view = MemView.EMPTY;
    try {
      view = MemView.of(pieces);
    } catch (e) {
      problems.push((e as Error).message);
    }
    return { view, problems, tables: seen };
  }

  walk(): MemView {
    return this.scan().view;
  }

  violations(): string[] {
    const { problems } = this.scan();
    if (this.sharedFrom) {
      const mine = this.table(this.root);
      const theirs = this.table(this.sharedFrom.root);
      for (let i = this.sharedFrom.slots[0]; i < this.sharedFrom.slots[1]; i++) {
        if ((mine.getBigUint64(i * 8, true) & ~0x20n) !== (theirs.getBigUint64(i * 8, true) & ~0x20n)) problems.push(`shared top-level entry ${i} differs from the kernel space's`);
      }
    }
    return problems;
  }
}
