/**
 * Walks explained for people: the linear address split into its indices (hex
 * and binary); per level the table's physical address, the entry's address
 * and value with its flags named, what the entry allows and where it leads;
 * the permission checks of SDM 4.6 rule by rule; and the outcome (the
 * physical address, or the fault with the rule that decided it and the error
 * code bit by bit). Used by `x86mmu explain`, `x86mmu demo` and `npm start`;
 * `traceFacts` gives `x86mmu run --trace` the same facts as JSON.
 *
 * Colour is ANSI and optional: the CLI turns it on for a terminal only.
 */

import { PFEC_RSVD, CR4_LA57_BIT, CR4_PSE_BIT } from "../arch/index.js";
import { describeErrorCode } from "../base/index.js";
import { hex } from "../base/index.js";
import type { Access, AccessResult, NestedWalk, StepResult, TlbStep, WalkStep } from "../scenario/index.js";
import type { TlbEvent } from "../scenario/index.js";
import type { TlbEntry } from "../mmu/index.js";
import { flagNames, targetOf, errorCodeFields, permissionChecks, shapeOf, SIZE_WORDS, type Check } from "../arch/index.js";

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

/** The flags of an entry, named as the SDM names them (PS is PAT in a PTE); "not present" when P=0. */
export function entryFlags(level: string, entry: bigint): string {
  const f = flagNames(level, entry);
  return f.length ? f.join(" ") : "not present (P=0)";
}

/**
 * The index fields of a linear address for 4- or 5-level paging, most
 * significant first. With the leaf's page size known ("2M" or "1G"), the
 * levels below the leaf are part of the offset (bits 20:0 or 29:0).
 */
export function addressFields(va: bigint, la57: boolean | "32-bit" | "pae", leafSize?: string): { name: string; hi: number; lo: number; value: bigint }[] {
  if (la57 === "32-bit" || la57 === "pae") return legacyFields(va, la57, leafSize);
  const all = la57 ? ["PML5", "PML4", "PDPT", "PD", "PT"] : ["PML4", "PDPT", "PD", "PT"];
  const below = leafSize === "1G" ? 2 : leafSize === "2M" ? 1 : 0;
  const names = all.slice(0, all.length - below);
  const top = la57 ? 56 : 47;
  const fields = [{ name: "sign", hi: 63, lo: top + 1, value: va >> BigInt(top + 1) }];
  names.forEach((name, i) => {
    const lo = 12 + 9 * (all.length - 1 - i);
    fields.push({ name, hi: lo + 8, lo, value: (va >> BigInt(lo)) & 0x1ffn });
  });
  const offsetTop = 11 + 9 * below;
  fields.push({ name: "offset", hi: offsetTop, lo: 0, value: va & ((1n << BigInt(offsetTop + 1)) - 1n) });
  return fields;
}

/**
 * A 32-bit linear address's fields: 32-bit paging PDE 31:22, PTE 21:12 (a
 * 4 MiB page: offset 21:0); PAE PDPTE 31:30, PDE 29:21, PTE 20:12 (a 2 MiB
 * page: offset 20:0).
 */
function legacyFields(va: bigint, shape: "32-bit" | "pae", leafSize?: string): { name: string; hi: number; lo: number; value: bigint }[] {
  const f = (name: string, hi: number, lo: number) => ({ name, hi, lo, value: (va >> BigInt(lo)) & ((1n << BigInt(hi - lo + 1)) - 1n) });
  if (shape === "32-bit") return leafSize === "4M" ? [f("PDE", 31, 22), f("offset", 21, 0)] : [f("PDE", 31, 22), f("PTE", 21, 12), f("offset", 11, 0)];
  return leafSize === "2M" ? [f("PDPTE", 31, 30), f("PDE", 29, 21), f("offset", 20, 0)] : [f("PDPTE", 31, 30), f("PDE", 29, 21), f("PTE", 20, 12), f("offset", 11, 0)];
}

/** The address split into its fields: names, bit ranges, values in hex and binary. */
export function explainAddress(va: bigint, la57: boolean | "32-bit" | "pae", s: Style, leafSize?: string): string[] {
  const fields = addressFields(va, la57, leafSize);
  const cells = fields.map((f, i) => {
    const width = f.hi - f.lo + 1;
    const bin = f.value.toString(2).padStart(width, "0");
    return {
      head: `${f.name} ${f.hi}:${f.lo}`,
      val: f.name === "sign" ? hex(f.value) : f.name === "offset" ? hex(f.value) : `${f.value} (${hex(f.value)})`,
      bin,
      colour: (t: string) => (f.name === "sign" || f.name === "offset" ? s.dim(t) : s.level(fields[0]!.name === "sign" ? i : i + 1, t)),
    };
  });
  const w = cells.map((c) => Math.max(c.head.length, c.val.length, c.bin.length));
  const row = (get: (c: (typeof cells)[number]) => string) =>
    ("  " + cells.map((c, i) => c.colour(i === cells.length - 1 ? get(c) : get(c).padEnd(w[i]!))).join(" | ")).trimEnd();
  return [row((c) => c.head), row((c) => c.val), row((c) => c.bin)];
}

/** The registers an explanation looks at (a scenario's `cpu` or an Mmu's `state`). */
export interface ExplainCpu {
  cr0: bigint;
  cr3: bigint;
  cr4: bigint;
  efer: bigint;
  pkru?: bigint | number;
  pkrs?: bigint | number;
  maxphyaddr?: number;
  maxPhyAddr?: number;
}

function checkCpu(cpu: ExplainCpu) {
  return {
    cr0: cpu.cr0, cr4: cpu.cr4, efer: cpu.efer,
    pkru: BigInt(cpu.pkru ?? 0), pkrs: BigInt(cpu.pkrs ?? 0),
    maxphyaddr: cpu.maxphyaddr ?? cpu.maxPhyAddr ?? 52,
  };
}

export function describeAccess(a: Access): string {
  const size = a.op === "fetch" ? "" : `, ${a.size} byte${a.size === 1 ? "" : "s"}`;
  const value = a.op === "write" ? ` of ${hex(a.value)}` : "";
  const mode = a.cpl === 3 ? "CPL 3 (user mode)" : `CPL 0 (supervisor mode), EFLAGS.AC=${a.ac ? 1 : 0}`;
  return `${a.op}${value}${size} at ${hex(a.va)}, ${mode}`;
}

/** What an entry's `allows` means, in words: "read/write, user, execute". */
export function allowsWords(allows: string[]): string {
  if (allows.length === 0) return "nothing";
  const w = [allows.includes("W") ? "read/write" : "read-only", allows.includes("U") ? "user" : "supervisor-only", allows.includes("X") ? "execute" : "no-execute"];
  return w.join(", ");
}

/**
 * The guest walks of an access: one per page it touches (a page-crossing
 * access walks twice); each starts at the top level, the first step's.
 * Nested steps (under nested paging, those with a `gpa`) are left out.
 */
export function splitWalks(walk: WalkStep[], _la57?: boolean): WalkStep[][] {
  const guest = walk.filter((st) => st.gpa === undefined);
  const top = guest[0]?.level;
  const walks: WalkStep[][] = [];
  for (const step of guest) {
    if (step.level === top || walks.length === 0) walks.push([]);
    walks[walks.length - 1]!.push(step);
  }
  return walks;
}

/** The permission checks of each walk of an access (see permissionChecks in scenario/trace.ts). */
export function checksOf(a: Access, r: AccessResult, cpu: ExplainCpu): Check[][] {
  const walks = splitWalks(r.walk ?? [], bit(cpu.cr4, CR4_LA57_BIT));
  return walks.map((w, i) => {
    const faulted = !r.ok && r.fault === "PF" && i === walks.length - 1;
    return permissionChecks(checkCpu(cpu), a, w, faulted && (Number(r.errorCode) & PFEC_RSVD) !== 0);
  });
}

function targetWords(step: WalkStep, legacy: { pae?: boolean; pse?: boolean } = {}): string {
  const t = targetOf(step.level, step.entry, legacy);
  if (!t) return "";
  return t.kind === "table" ? `-> ${t.level} table at ${hex(t.paddr)}` : `-> ${SIZE_WORDS[t.size]} page at ${hex(t.paddr)}`;
}

/** The page after `va`'s: linear addresses wrap at 4 GiB outside long mode. */
function nextPage(va: bigint, shape: string): bigint {
  const n = ((va >> 12n) + 1n) << 12n;
  return shape === "long" ? n : n & 0xffffffffn;
}

/**
 * The 2-D walk of nested paging as a grid: one row per guest level (the
 * nested walk of the guest entry's guest-physical address, then the guest
 * entry it found) and one for the final guest-physical address; a column per
 * nested level. Each cell is the nested entry read; the memory references
 * are counted, and the row where the walk stopped says why.
 */
export function nestedGrid(pages: NestedWalk[], s: Style): string[] {
  const out: string[] = [];
  const cols = ["PML4", "PDPT", "PD", "PT"];
  const cell = (st: WalkStep | undefined) => (st ? hex(st.entry) + (st.stop ? "!" : "") : "-").padEnd(20);
  pages.forEach((page, p) => {
    let refs = 0;
    out.push(s.dim(`  2-D walk${pages.length > 1 ? ` (page ${p + 1})` : ""}: rows are guest levels and the final address; columns the nested levels (entry values; ! = stopped)`));
    out.push(`  ${"row".padEnd(10)}${"guest-physical".padEnd(20)}${cols.map((c) => ("n" + c).padEnd(20)).join("")}guest entry`);
    const rows: { name: string; gpa: bigint; nested: WalkStep[]; guest?: WalkStep }[] = page.levels.map((l) => ({
      name: l.guest ? `${l.guest.level}[${l.guest.index}]` : "(entry)",
      gpa: l.gpa,
      nested: l.nested,
      guest: l.guest,
    }));
    if (page.final) rows.push({ name: "final", gpa: page.final.gpa, nested: page.final.nested });
    for (const row of rows) {
      refs += row.nested.length + (row.guest ? 1 : 0);
      const byLevel = cols.map((c) => row.nested.find((n) => n.level === c));
      const guest = row.guest ? hex(row.guest.entry) : row.name === "final" ? "" : s.bad("not read");
      out.push(`  ${s.level(1, row.name.padEnd(10))}${hex(row.gpa).padEnd(20)}${byLevel.map(cell).join("")}${guest}`);
      const stopped = row.nested.find((n) => n.stop) ?? (row.guest?.stop ? row.guest : undefined);
      if (stopped) out.push(`            ${s.bad(`stops at ${stopped.gpa !== undefined ? "n" : ""}${stopped.level}: ${stopped.stop}`)}`);
    }
    out.push(s.dim(`  memory references: ${refs} (${rows.reduce((n, r) => n + r.nested.length, 0)} nested, ${rows.filter((r) => r.guest).length} guest)`));
  });
  return out;
}

/**
 * Why a scenario access raised #GP: under PAE paging the PDPTE load that
 * precedes it found a reserved bit (format v2); in long mode the address was
 * not canonical. (Other modes have no #GP from translation.)
 */
function gpReason(cpu: ExplainCpu): string {
  if (shapeOf(cpu) === "pae") return "loading the PDPTE registers found a present PDPTE with a reserved bit (2:1, 8:5 or 63:MAXPHYADDR); nothing changes";
  const top = bit(cpu.cr4, CR4_LA57_BIT) ? 56 : 47;
  return `the address is not canonical (bits 63:${top + 1} must equal bit ${top}); no walk is made`;
}

/** One access explained: the address split, each level of the walk, the checks, and the outcome. */
export function explainAccess(a: Access, r: AccessResult, cpu: ExplainCpu, s: Style = plain): string {
  const la57 = bit(cpu.cr4, CR4_LA57_BIT);
  const shape = shapeOf(cpu);
  const out: string[] = [s.bold(describeAccess(a))];
  // A walk that reached a large leaf: the lower indices are offset bits.
  const guestSteps = (r.walk ?? []).filter((st) => st.gpa === undefined);
  const leafSize = guestSteps.map((st) => st.allows.find((x) => x.startsWith("leaf "))?.slice(5)).find((x) => x !== undefined && x !== "4K");
  if (shape === "off") {
    out.push(`  paging is off (CR0.PG=0): the physical address is the linear address${r.ok ? "" : "; no walk is made"}`);
  } else {
    out.push(...explainAddress(a.va, shape === "long" ? la57 : shape, s, leafSize));
  }
  const names = shape === "32-bit" ? ["PDE", "PTE"] : shape === "pae" ? ["PDPTE", "PDE", "PTE"] : la57 ? ["PML5", "PML4", "PDPT", "PD", "PT"] : ["PML4", "PDPT", "PD", "PT"];
  const walks = splitWalks(r.walk ?? []);
  const checks = checksOf(a, r, cpu);
  const pad = " ".repeat(12);
  if (r.nestedWalk?.length) out.push(...nestedGrid(r.nestedWalk, s));
  walks.forEach((walk, w) => {
    if (w > 0) out.push(s.dim(`  The access crosses into the next page, ${hex(nextPage(a.va, shape))}, which is walked too:`));
    const root = shape === "pae" ? `the PDPTE registers were loaded from the PDPT at ${hex(walk[0]!.table)}` : `the ${names[0] === "PDE" ? "page directory" : names[0] + " table"} is at ${hex(walk[0]!.table)}`;
    out.push(`  CR3 ${hex(cpu.cr3)}: ${root}${r.nestedWalk?.length ? " (guest-physical)" : ""}`);
    for (const step of walk) {
      const i = names.indexOf(step.level);
      const name = s.level(i + 1, `${step.level}[${step.index}]`.padEnd(10));
      out.push(`  ${name}table ${hex(step.table)}, entry at ${hex(step.entryAddr)} = ${hex(step.entry)}`);
      const flags = entryFlags(step.level, step.entry);
      const present = flagNames(step.level, step.entry).length > 0;
      const leaf = step.allows.some((x) => x.startsWith("leaf"));
      const rest = present ? `; allows ${allowsWords(step.allows)}${leaf ? " (leaf)" : ""} ${targetWords(step, { pae: shape === "pae", pse: bit(cpu.cr4, CR4_PSE_BIT) })}` : "";
      out.push(`${pad}${present ? flags : s.bad(flags)}${s.dim(rest)}`);
      if (step.stop) out.push(`${pad}${s.bad("stops: " + step.stop)}`);
    }
    const applied = checks[w]!.filter((c) => c.applies);
    const skipped = checks[w]!.filter((c) => !c.applies);
    if (applied.length) {
      out.push("  checks:");
      for (const c of applied) {
        const mark = c.pass ? s.ok("pass") : s.bad("FAIL");
        out.push(`    ${mark}  ${c.name.padEnd(4)}  ${c.why}${s.dim(`  (${c.rule})`)}`);
      }
    }
    if (skipped.length) out.push(s.dim(`    n/a   ${skipped.map((c) => `${c.name} (${c.why})`).join(", ")}`));
  });
  if (r.ok) {
    const value = r.value !== undefined ? `, value ${hex(r.value)}` : "";
    const leaf = walks[0]?.[walks[0].length - 1];
    const t = leaf && !r.nestedWalk?.length ? targetOf(leaf.level, leaf.entry, { pae: shape === "pae", pse: bit(cpu.cr4, CR4_PSE_BIT) }) : undefined;
    let sum = "";
    if (t?.kind === "page") {
      const bits = t.size === "4K" ? 12 : t.size === "2M" ? 21 : t.size === "4M" ? 22 : 30;
      sum = ` = ${SIZE_WORDS[t.size]} page ${hex(t.paddr)} + offset ${hex(a.va & ((1n << BigInt(bits)) - 1n))} (address bits ${bits - 1}:0)`;
    }
    out.push(`  ${s.ok("=> physical address " + hex(r.pa) + sum + value)}`);
  } else if (r.fault === "GP") {
    out.push(`  ${s.bad(`=> #GP(0): ${gpReason(cpu)}`)}`);
  } else if (r.fault === "NPF") {
    const i1 = r.exitinfo1;
    const names = [[0n, "P"], [1n, "RW"], [2n, "US"], [3n, "RSVD"], [4n, "ID"], [32n, "final gPA"], [33n, "guest table"]] as const;
    const set = names.filter(([b]) => ((i1 >> b) & 1n) !== 0n).map(([, n]) => n).join("|");
    out.push(`  ${s.bad(`=> #VMEXIT(NPF): EXITINFO1 ${hex(i1)} (${set}), EXITINFO2 (guest-physical) ${hex(r.exitinfo2)}`)}`);
  } else {
    const code = Number(r.errorCode);
    out.push(`  ${s.bad(`=> #PF, error code ${hex(r.errorCode)} (${describeErrorCode(code)}), CR2 = ${hex(r.cr2)}`)}`);
    for (const f of errorCodeFields(code)) {
      const line = `bit ${f.bit} ${f.name.padEnd(4)} = ${f.value}  ${f.meaning}`;
      out.push(`       ${f.value ? line : s.dim(line)}`);
    }
  }
  return out.join("\n");
}

/**
 * The facts `explain` prints that a `run --trace` result lacks, added to the
 * formatted result object (existing keys untouched): per walk step `flags`
 * (the entry's bits by name) and `next` (the table or page it leads to);
 * per access `checks` (the permission rules, one list per walk) and, for a
 * page fault, `error_code_bits` (bit by bit), for #GP a `reason`.
 */
export function traceFacts(formatted: { results: Record<string, unknown>[] }, results: (AccessResult | StepResult)[], accesses: (Access | TlbStep)[], cpu: ExplainCpu): void {
  results.forEach((r, i) => {
    const a = accesses[i]!;
    if ("step" in r || "step" in a) {
      // A TLB step: a MOV to CR3 changes the CR3 the later accesses are explained with.
      if ("step" in a && a.step === "mov_cr3" && r.ok) cpu = { ...cpu, cr3: a.value };
      return;
    }
    const o = formatted.results[i]!;
    const walk = (o.walk ?? []) as Record<string, unknown>[];
    (r.walk ?? []).forEach((step, j) => {
      const t = targetOf(step.level, step.entry);
      Object.assign(walk[j]!, {
        flags: flagNames(step.level, step.entry),
        ...(t ? { next: t.kind === "table" ? { table: t.level, paddr: hex(t.paddr) } : { page: t.size, paddr: hex(t.paddr) } } : {}),
      });
    });
    o.checks = checksOf(a, r, cpu).map((cs) => cs.map((c) => ({ check: c.name, applies: c.applies, pass: c.pass, rule: c.rule, why: c.why })));
    if (!r.ok && r.fault === "PF") o.error_code_bits = errorCodeFields(Number(r.errorCode));
    if (!r.ok && r.fault === "GP") o.reason = gpReason(cpu);
  });
}

/** A TLB entry in words: page, frame, size, tags and what it serves. */
function tlbEntryWords(e: TlbEntry): string {
  return `${hex(e.linear)} -> ${hex(e.frame)} (${SIZE_WORDS[e.pageSize === 0x1000n ? "4K" : e.pageSize === 0x200000n ? "2M" : e.pageSize === 0x400000n ? "4M" : "1G"]} page, PCID ${e.pcid}${e.asid ? `, ASID ${e.asid}` : ""}${e.global ? ", global" : ""}; serves ${[
      e.read.length ? `reads (${e.read.join(" ")})` : "",
      e.write.length ? `writes (${e.write.join(" ")})` : "",
      e.fetch.length ? `fetches (${e.fetch.join(" ")})` : "",
    ].filter(Boolean).join(", ") || "nothing yet"})`;
}

/** A TLB step (the TLB extension) explained: the instruction, what the SDM says it invalidates, its outcome, and the entries it evicted. */
export function explainTlbStep(step: TlbStep, r: AccessResult | StepResult, ev: TlbEvent | undefined, s: Style = plain): string {
  const what: Record<TlbStep["step"], () => string> = {
    mov_cr3: () => {
      const v = (step as { value: bigint }).value;
      return `MOV to CR3 = ${hex(v)}: ${bit(v, 63) ? "bit 63 set: with CR4.PCIDE=1 the new PCID's entries are kept" : "flushes the non-global entries (of the new PCID, with CR4.PCIDE=1)"}; global pages stay`;
    },
    invlpg: () => `INVLPG ${hex((step as { va: bigint }).va)}: that page's entries (global ones too) and the paging-structure caches`,
    invpcid: () => {
      const t = step as { type: number; pcid: number; va: bigint };
      return [
        `INVPCID type 0: address ${hex(t.va)} of PCID ${t.pcid}`,
        `INVPCID type 1: every non-global entry of PCID ${t.pcid}`,
        "INVPCID type 2: every entry, global ones too",
        "INVPCID type 3: every entry but the global ones",
      ][t.type]!;
    },
    store: () => {
      const t = step as { paddr: bigint; value: bigint; size: number };
      return `store ${hex(t.value)} (${t.size} bytes) to physical ${hex(t.paddr)}, with no invalidation: a TLB entry made from the old value stays usable`;
    },
    flush: () => "flush the TLB, global entries too (a MOV to CR4 toggling PGE)",
    shootdown: () => {
      const t = step as { targets: number[]; invalidations: { step: string; va?: bigint; type?: number; pcid?: number }[] };
      const invs = t.invalidations.map((i) => (i.step === "invlpg" ? `INVLPG ${hex(i.va!)}` : i.step === "invpcid" ? `INVPCID type ${i.type} (PCID ${i.pcid}, ${hex(i.va!)})` : "a full flush"));
      return `TLB shootdown to CPU ${t.targets.join(", ")}: ${invs.join(", ")}; each target performs it before its next item (until then it may use what it cached)`;
    },
  };
  const on = (step as { cpu?: number }).cpu;
  const lines = [s.bold((on !== undefined ? `CPU ${on}: ` : "") + what[step.step]())];
  if (!r.ok) lines.push(`  ${s.bad("=> #GP(0): the processor refuses this; nothing changes")}`);
  for (const e of ev?.evicted ?? []) lines.push(s.dim(`    evicted ${tlbEntryWords(e)}`));
  if (r.ok && ev && ev.evicted.length === 0 && step.step !== "shootdown") lines.push(s.dim("    no entry evicted"));
  return lines.join("\n");
}

/** What an access did to the TLB (explain --tlb): hit or miss, and the entries it filled and evicted. */
export function explainTlbEvent(ev: TlbEvent, s: Style = plain): string {
const entry = tlbEntryWords;
  const what = ev.misses === 0 && ev.hits > 0 ? s.ok("TLB hit: no walk") : ev.misses > 0 ? s.bad(`TLB miss${ev.misses > 1 ? ` (${ev.misses} pages)` : ""}: walked`) : "no translation";
  const lines = [`  ${what}`];
  for (const e of ev.filled) lines.push(`    filled  ${entry(e)}`);
  for (const e of ev.evicted) lines.push(s.dim(`    evicted ${entry(e)}`));
  return lines.join("\n");
}
