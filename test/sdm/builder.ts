/**
 * A tiny helper to write hand-derived conformance cases in the public scenario
 * format (docs/scenario-format.md). Nothing here computes an expected result:
 * every expectation in the cases-*.ts files is written out literally, derived
 * by hand from the Intel SDM Vol. 3A chapter 4 and the format's QEMU choices.
 *
 * Conventional layout for a linear address whose four (or five) table indices
 * are all 0 (e.g. va 0x0..0xfff):
 *   4-level: PML4 at 0x1000, PDPT at 0x2000, PD at 0x3000, PT at 0x4000, data page 0x5000
 *   5-level: PML5 at 0x1000, PML4 at 0x2000, PDPT at 0x3000, PD at 0x4000, PT at 0x5000, data 0x6000
 * Entries are given as hex strings, exactly as they sit in memory.
 */

export interface Region {
  paddr: string;
  qwords?: string[];
  fill?: string;
  count?: number;
}

export interface CpuInput {
  cr0: string;
  cr3: string;
  cr4: string;
  efer: string;
  pkru?: string;
  pkrs?: string;
  maxphyaddr?: number;
}

export interface AccessInput {
  va: string;
  op: "read" | "write" | "fetch";
  size?: number;
  cpl?: number;
  ac?: boolean;
  value?: string;
}

export type ResultOutput =
  | { ok: true; pa: string; value?: string }
  | { ok: false; fault: "PF"; error_code: string; cr2: string }
  | { ok: false; fault: "GP"; error_code: string };

export interface Change {
  paddr: string;
  value: string;
}

export interface SdmCase {
  /** The SDM rule the case checks; also the test title. */
  rule: string;
  scenario: { name: string; cpu: CpuInput; memory: Region[]; accesses: AccessInput[] };
  expected: { name: string; results: ResultOutput[]; memory: Change[] };
}

// ---- CPU state -------------------------------------------------------------

/** CR0 = PG|WP|NE|ET|MP|PE (CR0.WP = bit 16 set). */
export const CR0_WP1 = "0x80010033";
/** CR0 = PG|NE|ET|MP|PE (CR0.WP = 0). */
export const CR0_WP0 = "0x80000033";
/** EFER = NXE|LMA|LME. */
export const EFER_NXE = "0xd00";
/** EFER = LMA|LME (NXE = 0: bit 63 of every entry is reserved). */
export const EFER_NO_NXE = "0x500";

/** CR4 bits (SDM Vol. 3A 2.5). */
export const PAE = 0x20;
export const PGE = 0x80;
export const LA57 = 0x1000;
export const PCIDE = 0x20000;
export const SMEP = 0x100000;
export const SMAP = 0x200000;
export const PKE = 0x400000;
export const PKS = 0x1000000;

/** CR4 with PAE and the given bits. */
export function cr4(...bits: number[]): string {
  let v = PAE;
  for (const b of bits) v |= b;
  return "0x" + v.toString(16);
}

/** Default CPU: 4-level paging, CR0.WP=1, EFER.NXE=1, CR3 = 0x1000, MAXPHYADDR 52. */
export function cpu(over: Partial<CpuInput> = {}): CpuInput {
  return { cr0: CR0_WP1, cr3: "0x1000", cr4: cr4(), efer: EFER_NXE, ...over };
}

// ---- Memory ------------------------------------------------------------------

/** One 8-byte entry (or data word) at a physical address. */
export function at(paddr: number | string, value: string): Region {
  const p = typeof paddr === "number" ? "0x" + paddr.toString(16) : paddr;
  return { paddr: p, qwords: [value] };
}

/** Consecutive qwords from paddr on. */
export function words(paddr: number | string, ...qwords: string[]): Region {
  const p = typeof paddr === "number" ? "0x" + paddr.toString(16) : paddr;
  return { paddr: p, qwords };
}

/** `count` words all equal to `value` (a whole 4 KiB page by default). */
export function fill(paddr: number | string, value: string, count = 512): Region {
  const p = typeof paddr === "number" ? "0x" + paddr.toString(16) : paddr;
  return { paddr: p, fill: value, count };
}

/**
 * The conventional chain for a linear address whose indices are all 0:
 * entry i (top level first) at physical 0x1000 * (i + 1). An `undefined`
 * entry is left out (reads as 0, i.e. not present).
 */
export function chain(...entries: (string | undefined)[]): Region[] {
  const out: Region[] = [];
  entries.forEach((e, i) => {
    if (e !== undefined) out.push(at(0x1000 * (i + 1), e));
  });
  return out;
}

/** Concatenate region lists and check they are 8-aligned and do not overlap. */
export function memory(...parts: (Region | Region[])[]): Region[] {
  const out = parts.flat();
  const spans = out
    .map((r) => {
      const start = BigInt(r.paddr);
      if (start % 8n !== 0n) throw new Error(`unaligned region ${r.paddr}`);
      const n = r.qwords ? r.qwords.length : (r.count ?? 0);
      return [start, start + BigInt(n) * 8n] as const;
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) throw new Error(`overlapping regions at 0x${spans[i][0].toString(16)}`);
  }
  return out;
}

// ---- Accesses ----------------------------------------------------------------

export function read(va: string, cpl = 0, size = 8, ac?: boolean): AccessInput {
  const a: AccessInput = { va, op: "read", size, cpl };
  if (ac !== undefined) a.ac = ac;
  return a;
}

export function write(va: string, value: string, cpl = 0, size = 8, ac?: boolean): AccessInput {
  const a: AccessInput = { va, op: "write", size, cpl, value };
  if (ac !== undefined) a.ac = ac;
  return a;
}

export function fetch(va: string, cpl = 0, ac?: boolean): AccessInput {
  const a: AccessInput = { va, op: "fetch", cpl };
  if (ac !== undefined) a.ac = ac;
  return a;
}

// ---- Expected results ----------------------------------------------------------

/** Successful read: pa and value. */
export function okRead(pa: string, value: string): ResultOutput {
  return { ok: true, pa, value };
}

/** Successful write or fetch: pa only. */
export function ok(pa: string): ResultOutput {
  return { ok: true, pa };
}

export function pf(errorCode: string, cr2: string): ResultOutput {
  return { ok: false, fault: "PF", error_code: errorCode, cr2 };
}

export function gp(): ResultOutput {
  return { ok: false, fault: "GP", error_code: "0x0" };
}

/** Memory changes as [paddr, value] pairs, written in ascending paddr order by hand. */
export function changes(...pairs: [string, string][]): Change[] {
  return pairs.map(([paddr, value]) => ({ paddr, value }));
}

/** Assemble one case; the scenario's name (and the expected output's) is the rule. */
export function sdmCase(
  rule: string,
  input: { cpu?: Partial<CpuInput>; memory: Region[]; accesses: AccessInput[] },
  expected: { results: ResultOutput[]; memory: Change[] },
): SdmCase {
  return {
    rule,
    scenario: { name: rule, cpu: cpu(input.cpu), memory: memory(input.memory), accesses: input.accesses },
    expected: { name: rule, results: expected.results, memory: expected.memory },
  };
}
