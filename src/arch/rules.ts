/**
 * The words of a walk trace: level names, what an entry allows on its own,
 * and why a walk stopped. Used by the core engine's `run --trace` and by
 * `explain`; the reference walker keeps its own wording (it is an
 * independent model).
 */

import {
  PTE_P_BIT, PTE_RW_BIT, PTE_US_BIT, PTE_PWT_BIT, PTE_PCD_BIT, PTE_A_BIT, PTE_D_BIT, PTE_PS_BIT, PTE_G_BIT, PTE_XD_BIT,
  PTE_PK_SHIFT, PTE_ADDR_TOP_BIT, PTE_PAT_LARGE_BIT, PFEC_PK,
  CR0_WP_BIT, CR4_SMAP_BIT, CR4_SMEP_BIT, CR4_PKE_BIT, CR4_PKS_BIT, EFER_NXE_BIT,
  LEVEL_PT, LEVEL_PD, LEVEL_PDPT, LEVEL_PML4, LEVEL_PML5,
} from "./bits.js";

/** The registers the rules read (the scenario format's CpuState fits). */
export interface RuleCpu {
  cr0: bigint;
  cr4: bigint;
  efer: bigint;
  pkru: bigint;
  pkrs: bigint;
  maxphyaddr: number;
}

/** The kind of access a rule is about. */
export type Op = "read" | "write" | "fetch";

export const LEVEL_NAMES: Record<number, string> = {
  [LEVEL_PML5]: "PML5", [LEVEL_PML4]: "PML4", [LEVEL_PDPT]: "PDPT", [LEVEL_PD]: "PD", [LEVEL_PT]: "PT",
};

const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) !== 0n;

/** "4K", "2M" or "1G" when the entry at `level` is a present leaf, else undefined. */
export function leafSizeOf(level: number, entry: bigint): string | undefined {
  if (!bit(entry, PTE_P_BIT)) return undefined;
  if (level === LEVEL_PT) return "4K";
  if ((level === LEVEL_PD || level === LEVEL_PDPT) && bit(entry, PTE_PS_BIT)) return level === LEVEL_PD ? "2M" : "1G";
  return undefined;
}

/** What an entry allows on its own: "W", "U", "X" (fetches: XD clear or EFER.NXE=0), and "leaf 4K/2M/1G". */
export function allowsOf(entry: bigint, leafSize: string | undefined, nxe: boolean): string[] {
  if (!bit(entry, PTE_P_BIT)) return [];
  const a: string[] = [];
  if (bit(entry, PTE_RW_BIT)) a.push("W");
  if (bit(entry, PTE_US_BIT)) a.push("U");
  if (!(nxe && bit(entry, PTE_XD_BIT))) a.push("X");
  if (leafSize !== undefined) a.push(`leaf ${leafSize}`);
  return a;
}

/** Which reserved bits an entry sets, in words (for a RSVD fault). */
export function reservedBitsOf(level: number, entry: bigint, cpu: RuleCpu): string {
  const reasons: string[] = [];
  const phys = (1n << BigInt(cpu.maxphyaddr)) - 1n;
  const addrBits = ((1n << BigInt(PTE_ADDR_TOP_BIT + 1)) - 1n) & ~0xfffn;
  if ((entry & addrBits & ~phys) !== 0n) reasons.push(`address bits at or above MAXPHYADDR (${cpu.maxphyaddr})`);
  if (!bit(cpu.efer, EFER_NXE_BIT) && bit(entry, PTE_XD_BIT)) reasons.push("XD (bit 63) with EFER.NXE=0");
  if (level >= LEVEL_PML4 && bit(entry, PTE_PS_BIT)) reasons.push(`PS in a ${LEVEL_NAMES[level]}E`);
  const size = leafSizeOf(level, entry);
  if (size === "2M" || size === "1G") {
    const top = size === "2M" ? 20 : 29;
    const low = ((1n << BigInt(top + 1)) - 1n) & ~((1n << BigInt(PTE_PAT_LARGE_BIT + 1)) - 1n);
    if ((entry & low) !== 0n) reasons.push(`bits ${top}:13 of a ${size === "2M" ? "2 MiB" : "1 GiB"} page's frame address`);
  }
  return reasons.length ? `reserved bit set: ${reasons.join(", ")}` : "reserved bit set";
}

/**
 * Why an access with page-fault error code `code` stopped at the leaf whose
 * accumulated rights are `user`/`writable`/`xd` (SDM 4.6, in words).
 */
export function denialReason(code: number, cpu: RuleCpu, op: Op, cpl: number, ac: boolean, leaf: bigint, user: boolean, writable: boolean, xd: boolean): string {
  if ((code & PFEC_PK) !== 0) {
    const key = Number((leaf >> BigInt(PTE_PK_SHIFT)) & 0xfn);
    const reg = user ? "PKRU" : "IA32_PKRS";
    const rights = user ? cpu.pkru : cpu.pkrs;
    const ad = bit(rights, 2 * key);
    return ad ? `protection key ${key}: access disabled (${reg}.AD${key}=1)` : `protection key ${key}: write disabled (${reg}.WD${key}=1)`;
  }
  if (cpl === 3 && !user) return "user-mode access to a supervisor-mode page (U/S=0 in some entry)";
  if (op === "fetch") {
    if (xd) return "instruction fetch from an execute-disable page (XD=1 in some entry)";
    if (bit(cpu.cr4, CR4_SMEP_BIT) && user) return "SMEP: supervisor-mode fetch from a user-mode page";
  } else {
    if (cpl !== 3 && user && bit(cpu.cr4, CR4_SMAP_BIT) && !ac) return "SMAP: supervisor-mode data access to a user-mode page with EFLAGS.AC=0";
    if (op === "write" && !writable) {
      return cpl === 3 ? "user-mode write to a read-only page (R/W=0 in some entry)" : "supervisor-mode write to a read-only page with CR0.WP=1";
    }
  }
  return `access denied (error code 0x${code.toString(16)})`;
}



// ---- Facts for explainers (`explain`, `run --trace`, the web page) ----

const PTE_ADDR_MASK = ((1n << BigInt(PTE_ADDR_TOP_BIT + 1)) - 1n) & ~0xfffn;
const NEXT_LEVEL: Record<string, string> = { PML5: "PML4", PML4: "PDPT", PDPT: "PD", PD: "PT" };
const LEVEL_NUMBER: Record<string, number> = { PML5: LEVEL_PML5, PML4: LEVEL_PML4, PDPT: LEVEL_PDPT, PD: LEVEL_PD, PT: LEVEL_PT };

/** The level number (1 = PT .. 5 = PML5) of a level name. */
export function levelNumber(level: string): number {
  const n = LEVEL_NUMBER[level];
  if (n === undefined) throw new RangeError(`unknown paging level ${level}`);
  return n;
}

/**
 * The names of the bits an entry sets, as the SDM names them, lowest first:
 * P RW US PWT PCD A D PS|PAT G PAT PK=n XD. Empty when P=0 (every other bit is
 * then ignored). Bit 7 is PS in a PDPTE/PDE (PAT in a PTE); bit 12 is PAT in a
 * 2 MiB or 1 GiB leaf.
 */
export function flagNames(level: string, entry: bigint): string[] {
  if (!bit(entry, PTE_P_BIT)) return [];
  const f = ["P"];
  if (bit(entry, PTE_RW_BIT)) f.push("RW");
  if (bit(entry, PTE_US_BIT)) f.push("US");
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
  return f;
}

/** Where a present entry points: the next table, or (a leaf) the page frame. Undefined when P=0. */
export type EntryTarget = { kind: "table"; level: string; paddr: bigint } | { kind: "page"; size: "4K" | "2M" | "1G"; paddr: bigint };

export function targetOf(level: string, entry: bigint): EntryTarget | undefined {
  const n = levelNumber(level);
  const size = leafSizeOf(n, entry) as "4K" | "2M" | "1G" | undefined;
  if (!bit(entry, PTE_P_BIT)) return undefined;
  if (size === undefined) return { kind: "table", level: NEXT_LEVEL[level] ?? "?", paddr: entry & PTE_ADDR_MASK };
  const low = size === "4K" ? 0xfffn : size === "2M" ? 0x1fffffn : 0x3fffffffn;
  return { kind: "page", size, paddr: entry & PTE_ADDR_MASK & ~low };
}

/** "4 KiB", "2 MiB", "1 GiB". */
export const SIZE_WORDS: Record<string, string> = { "4K": "4 KiB", "2M": "2 MiB", "1G": "1 GiB" };

/** The page-fault error-code bits (SDM Vol. 3A 4.7, Figure 4-12): bit, name, meaning when 0 and when 1. */
export const ERROR_CODE_FIELDS: { bit: number; name: string; clear: string; set: string }[] = [
  { bit: 0, name: "P", clear: "the page was not present", set: "a protection violation (the page was present)" },
  { bit: 1, name: "W/R", clear: "a read (or fetch)", set: "a write" },
  { bit: 2, name: "U/S", clear: "a supervisor-mode access", set: "a user-mode access" },
  { bit: 3, name: "RSVD", clear: "no reserved bit set", set: "a reserved bit set in some entry" },
  { bit: 4, name: "I/D", clear: "not an instruction fetch", set: "an instruction fetch" },
  { bit: 5, name: "PK", clear: "no protection-key violation", set: "a protection key denied the access" },
  { bit: 6, name: "SS", clear: "not a shadow-stack access", set: "a shadow-stack access" },
];

/** The error code bit by bit: one line of text per bit. */
export function errorCodeFields(code: number): { bit: number; name: string; value: 0 | 1; meaning: string }[] {
  return ERROR_CODE_FIELDS.map((f) => {
    const value = ((code >> f.bit) & 1) as 0 | 1;
    return { bit: f.bit, name: f.name, value, meaning: value ? f.set : f.clear };
  });
}

/** One permission rule of SDM 4.6 (and 4.5 for presence and reserved bits) as applied to one walk. */
export interface Check {
  /** Short name: "P", "RSVD", "U/S", "R/W", "XD", "SMEP", "SMAP", "PK". */
  name: string;
  /** The rule, in words. */
  rule: string;
  /** False when the rule does not apply to this access (see `why`). */
  applies: boolean;
  /** Whether the access passed the rule (meaningful when `applies`). */
  pass: boolean;
  /** Why the rule passed, failed or does not apply. */
  why: string;
}

interface StepLike {
  level: string;
  entry: bigint;
}

/**
 * The permission checks of one walk (its steps, top level first), rule by
 * rule. A walk that stopped at a non-present entry or a reserved bit reports
 * that check failing and no rights checks (the processor never got to them).
 * The verdict of the access is the core's; these say which rules it applied.
 */
export function permissionChecks(
  cpu: RuleCpu,
  access: { op: Op; cpl: number; ac: boolean },
  steps: StepLike[],
  reservedFault: boolean,
): Check[] {
  const checks: Check[] = [];
  if (steps.length === 0) return checks;
  const last = steps[steps.length - 1]!;
  if (!bit(last.entry, PTE_P_BIT)) {
    checks.push({ name: "P", rule: "every entry of the walk is present (P=1)", applies: true, pass: false, why: `the ${last.level} entry has P=0` });
    return checks;
  }
  checks.push({ name: "P", rule: "every entry of the walk is present (P=1)", applies: true, pass: true, why: "P=1 at every level" });
  if (reservedFault) {
    const full = { cr0: cpu.cr0, cr3: 0n, cr4: cpu.cr4, efer: cpu.efer, pkru: cpu.pkru, pkrs: cpu.pkrs, maxphyaddr: cpu.maxphyaddr };
    checks.push({ name: "RSVD", rule: "no entry sets a reserved bit", applies: true, pass: false, why: `the ${last.level} entry: ${reservedBitsOf(levelNumber(last.level), last.entry, full)}` });
    return checks;
  }
  checks.push({ name: "RSVD", rule: "no entry sets a reserved bit", applies: true, pass: true, why: "no reserved bit set" });

  const user = steps.every((s) => bit(s.entry, PTE_US_BIT));
  const writable = steps.every((s) => bit(s.entry, PTE_RW_BIT));
  const nxe = bit(cpu.efer, EFER_NXE_BIT);
  const xd = nxe && steps.some((s) => bit(s.entry, PTE_XD_BIT));
  const wp = bit(cpu.cr0, CR0_WP_BIT);
  const sup = access.cpl !== 3;
  const data = access.op !== "fetch";
  const firstWithout = (b: number) => steps.find((s) => !bit(s.entry, b))?.level;

  checks.push(
    sup
      ? { name: "U/S", rule: "a user-mode access needs U/S=1 in every entry", applies: false, pass: true, why: "supervisor-mode access (CPL 0)" }
      : { name: "U/S", rule: "a user-mode access needs U/S=1 in every entry", applies: true, pass: user, why: user ? "U/S=1 at every level" : `U/S=0 in the ${firstWithout(PTE_US_BIT)} entry` },
  );
  const rwApplies = access.op === "write" && (!sup || wp);
  checks.push({
    name: "R/W",
    rule: sup ? "with CR0.WP=1, a supervisor-mode write needs R/W=1 in every entry" : "a user-mode write needs R/W=1 in every entry",
    applies: rwApplies,
    pass: !rwApplies || writable,
    why: access.op !== "write" ? "not a write" : !rwApplies ? "supervisor write with CR0.WP=0" : writable ? "R/W=1 at every level" : `R/W=0 in the ${firstWithout(PTE_RW_BIT)} entry`,
  });
  const xdApplies = access.op === "fetch" && nxe;
  checks.push({
    name: "XD",
    rule: "with EFER.NXE=1, an instruction fetch needs XD=0 in every entry",
    applies: xdApplies,
    pass: !xd,
    why: access.op !== "fetch" ? "not an instruction fetch" : !nxe ? "EFER.NXE=0" : xd ? `XD=1 in the ${steps.find((s) => bit(s.entry, PTE_XD_BIT))!.level} entry` : "XD=0 at every level",
  });
  const smep = bit(cpu.cr4, CR4_SMEP_BIT);
  const smepApplies = smep && sup && !data;
  checks.push({
    name: "SMEP",
    rule: "with CR4.SMEP=1, a supervisor-mode fetch from a user-mode page faults",
    applies: smepApplies,
    pass: !(smepApplies && user),
    why: !smep ? "CR4.SMEP=0" : !sup ? "user-mode access" : data ? "not an instruction fetch" : user ? "supervisor fetch from a user-mode page" : "the page is a supervisor-mode page",
  });
  const smap = bit(cpu.cr4, CR4_SMAP_BIT);
  const smapApplies = smap && sup && data;
  checks.push({
    name: "SMAP",
    rule: "with CR4.SMAP=1, a supervisor-mode data access to a user-mode page needs EFLAGS.AC=1",
    applies: smapApplies,
    pass: !(smapApplies && user && !access.ac),
    why: !smap ? "CR4.SMAP=0" : !sup ? "user-mode access" : !data ? "an instruction fetch" : !user ? "the page is a supervisor-mode page" : access.ac ? "EFLAGS.AC=1 lifts SMAP" : "user-mode page with EFLAGS.AC=0",
  });
  // Protection keys (SDM 4.6.2): PKRU for user-mode pages (CR4.PKE), IA32_PKRS for supervisor-mode pages (CR4.PKS).
  const keyOn = user ? bit(cpu.cr4, CR4_PKE_BIT) : bit(cpu.cr4, CR4_PKS_BIT);
  const reg = user ? "PKRU" : "IA32_PKRS";
  const key = Number((last.entry >> BigInt(PTE_PK_SHIFT)) & 0xfn);
  const rights = user ? cpu.pkru : cpu.pkrs;
  const ad = bit(rights, 2 * key);
  const wd = bit(rights, 2 * key + 1);
  const pkApplies = keyOn && data && !(!user && !sup);
  const pkDenied = pkApplies && (ad || (access.op === "write" && wd && (!sup || wp)));
  checks.push({
    name: "PK",
    rule: `protection key ${key} of the page: ${reg}.AD${key}=1 denies data accesses, ${reg}.WD${key}=1 denies writes`,
    applies: pkApplies,
    pass: !pkDenied,
    why: !keyOn
      ? `CR4.${user ? "PKE" : "PKS"}=0`
      : !data
        ? "an instruction fetch (keys do not apply)"
        : !pkApplies
          ? "user-mode access to a supervisor-mode page"
          : ad
            ? `${reg}.AD${key}=1`
            : access.op === "write" && wd && (!sup || wp)
              ? `${reg}.WD${key}=1`
              : `${reg}.AD${key}=0${access.op === "write" ? `, WD${key}=${wd ? 1 : 0}${wd && sup && !wp ? " (ignored: CR0.WP=0)" : ""}` : ""}`,
  });
  return checks;
}
