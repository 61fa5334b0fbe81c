/**
 * QEMU's monitor commands `info tlb` and `info mem` (target/i386/monitor.c),
 * printed from x86mmu's own reading of the tables (`pageLeaves`), character
 * for character as QEMU prints them, so that the two can be compared with
 * `diff` (docs/images.md).
 *
 * `info tlb` (print_pte): one line per present leaf, `VA: PA XGPDACTUW`, both
 * 16 lowercase hex digits; VA canonical (sign-extended from bit 47, or 56
 * with CR4.LA57); the flags are the leaf entry's own bits: X (XD, bit 63),
 * G, P (PS: a large page), D, A, C (PCD), T (PWT), U, W, or '-'. A 4 KiB
 * line is printed with bit 7 (PAT) cleared, so it never shows P. PA is the
 * entry masked as QEMU masks it: bits 49:12 (4 KiB), 49:21 (2 MiB), 49:30
 * (1 GiB) in long mode; with 32-bit paging bits 31:12, or 31:21 of a 4 MiB
 * PDE; with PAE paging bits 63:12, or 63:20 of a 2 MiB PDE (QEMU leaves
 * XD and the bits above the address in those masks, and so does this).
 *
 * `info mem` (mem_print): ranges of consecutive linear pages whose effective
 * U/S and R/W (ANDed over every level) are equal, whatever their physical
 * addresses; `start-end size urw` with 16-digit hex fields ('u' or '-', 'r'
 * always, 'w' or '-'). QEMU walks the raw (not sign-extended) address space
 * and canonicalises each printed value, this included (the end of a range
 * reaching the top of the lower half prints as ffff800000000000, and the
 * end of one reaching the top of the address space as 0001000000000000).
 *
 * With CR0.PG=0 both print "PG disabled", as QEMU does.
 *
 * QEMU 7.2's `mem_info_la57` (5-level paging) tests a PDPTE's and a PDE's
 * present bit the wrong way round and so prints no range of a real 5-level
 * tree; this prints what its 4-level code would, extended to five levels
 * (docs/images.md says more).
 */

import type { Mmu } from "../mmu/index.js";
import type { PageMapOptions } from "./page-map.js";
import { pageLeaves, type PageLeaf, type PageLeaves } from "./page-leaves.js";

const hex16 = (v: bigint): string => v.toString(16).padStart(16, "0");

/** QEMU's addr_canonical: sign extension from bit 47, or bit 56 with 5 levels. */
function canonical(v: bigint, levels: number): bigint {
  const top = levels === 5 ? 56n : 47n;
  v = BigInt.asUintN(64, v);
  return (v >> top) & 1n ? BigInt.asUintN(64, v | -(1n << (top + 1n))) : v;
}

/** The PA field of an `info tlb` line: the (PAT-cleared, for 4 KiB) entry masked as QEMU masks it. */
function qemuPa(leaf: PageLeaf, mode: PageLeaves["mode"]): bigint {
  const e = leaf.level === 1 ? leaf.entry & ~0x80n : leaf.entry;
  switch (mode) {
    case "32-bit":
      return e & (leaf.level === 1 ? 0xfffff000n : 0xffe00000n);
    case "pae":
      return e & (leaf.level === 1 ? ~0xfffn : ~0xfffffn) & 0xffffffffffffffffn;
    default:
      return e & (leaf.level === 1 ? 0x3fffffffff000n : leaf.level === 2 ? 0x3ffffffe00000n : 0x3ffffc0000000n);
  }
}

const FLAG_BITS: [bigint, string][] = [
  [1n << 63n, "X"], [0x100n, "G"], [0x80n, "P"], [0x40n, "D"], [0x20n, "A"], [0x10n, "C"], [0x8n, "T"], [0x4n, "U"], [0x2n, "W"],
];

/** One `info tlb` line (without its newline). */
export function qemuTlbLine(leaf: PageLeaf, mode: PageLeaves["mode"], levels: number): string {
  const e = leaf.level === 1 ? leaf.entry & ~0x80n : leaf.entry;
  const flags = FLAG_BITS.map(([b, c]) => ((e & b) !== 0n ? c : "-")).join("");
  return `${hex16(canonical(leaf.va, levels))}: ${hex16(qemuPa(leaf, mode))} ${flags}`;
}

/** The lines `info tlb` prints for `walk` (from pageLeaves). */
export function qemuTlbLines(walk: PageLeaves): string[] {
  return walk.leaves.map((l) => qemuTlbLine(l, walk.mode, walk.levels));
}

/** The lines `info mem` prints for `walk` (from pageLeaves). */
export function qemuMemLines(walk: PageLeaves): string[] {
  const { levels } = walk;
  const width = levels >= 4 ? 12n + 9n * BigInt(levels) : 32n;
  const mask = (1n << width) - 1n;
  const lines: string[] = [];
  let start = -1n;
  let end = -1n;
  let prot = 0;
  const flush = (): void => {
    if (start < 0n) return;
    const c = (v: bigint): string => hex16(canonical(v, levels));
    lines.push(`${c(start)}-${c(end)} ${c(end - start)} ${prot & 2 ? "u" : "-"}r${prot & 1 ? "w" : "-"}`);
    start = -1n;
  };
  for (const leaf of walk.leaves) {
    const va = leaf.va & mask;
    const p = (leaf.flags.writable ? 1 : 0) | (leaf.flags.user ? 2 : 0);
    if (start < 0n || va !== end || p !== prot) {
      flush();
      start = va;
      prot = p;
    }
    end = va + pageBytes(leaf);
  }
  flush();
  return lines;
}

const BYTES: Record<PageLeaf["pageSize"], bigint> = { "4K": 0x1000n, "2M": 0x200000n, "4M": 0x400000n, "1G": 0x40000000n };
const pageBytes = (leaf: PageLeaf): bigint => BYTES[leaf.pageSize];

/**
 * QEMU's `info tlb` for the Mmu's current state (or the tree `options`
 * name): the text, one line per leaf, each ending in "\n" ("PG disabled\n"
 * with CR0.PG=0 and no `options.root`/`mode`).
 */
export function qemuInfoTlb(mmu: Mmu, options: PageMapOptions = {}): string {
  if (pagingOff(mmu, options)) return "PG disabled\n";
  return qemuTlbLines(pageLeaves(mmu, options)).map((l) => l + "\n").join("");
}

/** QEMU's `info mem` for the Mmu's current state, as qemuInfoTlb. */
export function qemuInfoMem(mmu: Mmu, options: PageMapOptions = {}): string {
  if (pagingOff(mmu, options)) return "PG disabled\n";
  return qemuMemLines(pageLeaves(mmu, options)).map((l) => l + "\n").join("");
}

const pagingOff = (mmu: Mmu, options: PageMapOptions): boolean =>
  mmu.pagingMode === "off" && options.root === undefined && options.mode === undefined && options.levels === undefined;
