/**
 * Walks explained for people: the linear address split into its indices, one
 * line per paging-structure entry with its flags named, and the outcome (the
 * physical address, or the fault with the SDM rule that decided it). Used by
 * `x86mmu explain`, `x86mmu demo` and `npm start`.
 *
 * Colour is ANSI and optional: the CLI turns it on for a terminal only.
 */

import {
  PTE_P_BIT, PTE_RW_BIT, PTE_US_BIT, PTE_PWT_BIT, PTE_PCD_BIT, PTE_A_BIT, PTE_D_BIT, PTE_PS_BIT, PTE_G_BIT,
  PTE_XD_BIT, PTE_PK_SHIFT, PTE_PAT_LARGE_BIT, CR4_LA57_BIT,
} from "./arch/bits.js";
import { describeErrorCode } from "./errors.js";
import { hex } from "./address.js";
import type { Access, AccessResult, CpuState, WalkStep } from "./scenario/types.js";

export interface Style {
  dim(s: string): string;
  bold(s: string): string;
  ok(s: string): string;
  bad(s: string): string;
  level(i: number, s: string): string;
}

const plain: Style = { dim: (s) => s, bold: (s) => s, ok: (s) => s, bad: (s) => s, level: (_i, s) => s };
const LEVEL_COLOURS = [35, 34, 36, 32, 33, 37];
const ansi = (code: number) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
const coloured: Style = {
  dim: ansi(2),
  bold: ansi(1),
  ok: ansi(32),
  bad: ansi(31),
  level: (i, s) => ansi(LEVEL_COLOURS[i % LEVEL_COLOURS.length]!)(s),
};

export function style(colour: boolean): Style {
  return colour ? coloured : plain;
}

const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) !== 0n;

/** The flags of an entry, named as the SDM names them (PS is PAT in a PTE). */
export function entryFlags(level: string, entry: bigint): string {
  if (!bit(entry, PTE_P_BIT)) return "not present";
  const f: string[] = ["P"];
  f.push(bit(entry, PTE_RW_BIT) ? "RW" : "RO");
  f.push(bit(entry, PTE_US_BIT) ? "US" : "S");
  if (bit(entry, PTE_PWT_BIT)) f.push("PWT");
  if (bit(entry, PTE_PCD_BIT)) f.push("PCD");
  if (bit(entry, PTE_A_BIT)) f.push("A");
  if (bit(entry, PTE_D_BIT)) f.push("D");
  if (bit(entry, PTE_PS_BIT)) f.push(level === "PT" ? "PAT" : "PS");
  if (bit(entry, PTE_G_BIT)) f.push("G");
  if (level !== "PT" && bit(entry, PTE_PS_BIT) && bit(entry, PTE_PAT_LARGE_BIT)) f.push("PAT");
  const key = Number((entry >> BigInt(PTE_PK_SHIFT)) & 0xfn);
  if (key !== 0) f.push(`PK=${key}`);
  if (bit(entry, PTE_XD_BIT)) f.push("XD");
  return f.join(" ");
}

/** The index fields of a linear address for 4- or 5-level paging, most significant first. */
export function addressFields(va: bigint, la57: boolean): { name: string; hi: number; lo: number; value: bigint }[] {
  const names = la57 ? ["PML5", "PML4", "PDPT", "PD", "PT"] : ["PML4", "PDPT", "PD", "PT"];
  const top = la57 ? 56 : 47;
  const fields = [{ name: "sign", hi: 63, lo: top + 1, value: va >> BigInt(top + 1) }];
  names.forEach((name, i) => {
    const lo = 12 + 9 * (names.length - 1 - i);
    fields.push({ name, hi: lo + 8, lo, value: (va >> BigInt(lo)) & 0x1ffn });
  });
  fields.push({ name: "offset", hi: 11, lo: 0, value: va & 0xfffn });
  return fields;
}

/** The address split into its fields: names, bit ranges, values in hex and binary. */
export function explainAddress(va: bigint, la57: boolean, s: Style): string[] {
  const fields = addressFields(va, la57);
  const cells = fields.map((f, i) => {
    const width = f.hi - f.lo + 1;
    const bin = f.value.toString(2).padStart(width, "0");
    return {
      head: `${f.name} ${f.hi}:${f.lo}`,
      val: f.name === "sign" ? hex(f.value) : f.name === "offset" ? hex(f.value) : `${f.value} (${hex(f.value)})`,
      bin,
      colour: (t: string) => (f.name === "sign" || f.name === "offset" ? s.dim(t) : s.level(i, t)),
    };
  });
  const w = cells.map((c) => Math.max(c.head.length, c.val.length, c.bin.length));
  const row = (get: (c: (typeof cells)[number]) => string) =>
    "  " + cells.map((c, i) => c.colour(get(c).padEnd(w[i]!))).join(" | ");
  return [row((c) => c.head), row((c) => c.val), row((c) => c.bin)];
}

export function describeAccess(a: Access): string {
  const size = a.op === "fetch" ? "" : `, ${a.size} byte${a.size === 1 ? "" : "s"}`;
  const value = a.op === "write" ? ` of ${hex(a.value)}` : "";
  return `${a.op}${value}${size} at ${hex(a.va)}, CPL ${a.cpl}${a.cpl === 0 ? `, EFLAGS.AC=${a.ac ? 1 : 0}` : ""}`;
}

/** One access explained: the address split, each level of the walk, and the outcome. */
export function explainAccess(a: Access, r: AccessResult, cpu: Pick<CpuState, "cr3" | "cr4">, s: Style = plain): string {
  const la57 = bit(cpu.cr4, CR4_LA57_BIT);
  const out: string[] = [s.bold(describeAccess(a))];
  out.push(...explainAddress(a.va, la57, s));
  const walk: WalkStep[] = r.walk ?? [];
  const names = la57 ? ["PML5", "PML4", "PDPT", "PD", "PT"] : ["PML4", "PDPT", "PD", "PT"];
  if (walk.length > 0) out.push(`  CR3 ${hex(cpu.cr3)}: the ${names[0]} table is at ${hex(walk[0]!.table)}`);
  let first = true;
  for (const step of walk) {
    if (step.level === names[0] && !first) out.push(s.dim(`  the access crosses into the next page, which is walked too:`));
    first = false;
    const i = names.indexOf(step.level);
    const name = s.level(i + 1, `${step.level}[${step.index}]`.padEnd(10));
    const allows = step.allows.length ? ` allows ${step.allows.join(" ")}` : "";
    out.push(`  ${name} entry at ${hex(step.entryAddr).padEnd(12)} = ${hex(step.entry).padEnd(20)} ${entryFlags(step.level, step.entry)}${s.dim(allows)}`);
    if (step.stop) out.push(`  ${" ".repeat(10)} ${s.bad("stops: " + step.stop)}`);
  }
  if (r.ok) {
    const value = r.value !== undefined ? `, value ${hex(r.value)}` : "";
    out.push(`  ${s.ok("=> physical address " + hex(r.pa) + value)}`);
  } else if (r.fault === "GP") {
    out.push(`  ${s.bad("=> #GP(0): the address is not canonical (bits 63:" + (la57 ? 57 : 48) + " must equal bit " + (la57 ? 56 : 47) + ")")}`);
  } else {
    out.push(`  ${s.bad(`=> #PF, error code ${hex(r.errorCode)} (${describeErrorCode(Number(r.errorCode))}), CR2 = ${hex(r.cr2)}`)}`);
  }
  return out.join("\n");
}
