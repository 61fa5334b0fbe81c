/**
 * The paging rules in words, for people: level names, what an entry allows
 * on its own, which reserved bits it sets, and the rights checks of SDM 4.6
 * as one table (RIGHTS_RULES) that says both what each rule requires and why
 * an access it denies stopped. `run --trace` (its stop reasons), `explain`
 * (its check list), the page map and the web page all quote this file; the
 * reference walker keeps its own wording (it is an independent model).
 */

import {
  PTE_P_BIT, PTE_RW_BIT, PTE_US_BIT, PTE_PWT_BIT, PTE_PCD_BIT, PTE_A_BIT, PTE_D_BIT, PTE_PS_BIT, PTE_G_BIT, PTE_XD_BIT,
  PTE_PK_SHIFT, PTE_ADDR_TOP_BIT, PTE_PAT_LARGE_BIT, PFEC_PK,
  CR0_PG_BIT, CR0_WP_BIT, CR4_PAE_BIT, CR4_PSE_BIT, CR4_SMAP_BIT, CR4_SMEP_BIT, CR4_PKE_BIT, CR4_PKS_BIT, EFER_LMA_BIT, EFER_NXE_BIT,
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

/** The shape of a walk: long mode (4- or 5-level), 32-bit paging, PAE paging; or no walk at all. */
export type Shape = "long" | "32-bit" | "pae" | "off";

/** Which walk the registers select (SDM table 4-1). */
export function shapeOf(cpu: Pick<RuleCpu, "cr0" | "cr4" | "efer">): Shape {
  if (!bit(cpu.cr0, CR0_PG_BIT)) return "off";
  if (!bit(cpu.cr4, CR4_PAE_BIT)) return "32-bit";
  return bit(cpu.efer, EFER_LMA_BIT) ? "long" : "pae";
}

const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) !== 0n;

export const LEVEL_NAMES: Record<number, string> = {
  [LEVEL_PML5]: "PML5", [LEVEL_PML4]: "PML4", [LEVEL_PDPT]: "PDPT", [LEVEL_PD]: "PD", [LEVEL_PT]: "PT",
};

/** Legacy walks name their levels by entry, as the SDM's tables 4-4..4-11 do. */
const LEGACY_LEVEL_NAMES: Record<"32-bit" | "pae", Record<number, string>> = {
  "32-bit": { [LEVEL_PD]: "PDE", [LEVEL_PT]: "PTE" },
  pae: { [LEVEL_PDPT]: "PDPTE", [LEVEL_PD]: "PDE", [LEVEL_PT]: "PTE" },
};

/** The name of level `level` (1 = the lowest) in a walk of shape `shape`. */
export function levelName(shape: Shape, level: number): string {
  const name = shape === "32-bit" || shape === "pae" ? LEGACY_LEVEL_NAMES[shape][level] : LEVEL_NAMES[level];
  if (name === undefined) throw new RangeError(`no level ${level} in ${shape} paging`);
  return name;
}

/** The shape a level name belongs to: PDE/PTE/PDPTE are legacy entries (PAE when `pae`). */
function shapeOfName(level: string, pae = false): Shape {
  return level === "PDPTE" ? "pae" : level === "PDE" || level === "PTE" ? (pae ? "pae" : "32-bit") : "long";
}

/**
 * "4K", "2M", "4M" or "1G" when the entry at `level` is a present leaf, else
 * undefined. 32-bit paging maps 4 MiB with PS in a PDE only with CR4.PSE.
 */
export function leafSizeOf(level: number, entry: bigint, shape: Shape = "long", pse = true): string | undefined {
  if (!bit(entry, PTE_P_BIT)) return undefined;
  if (level === LEVEL_PT) return "4K";
  if (shape === "32-bit") return level === LEVEL_PD && pse && bit(entry, PTE_PS_BIT) ? "4M" : undefined;
  if (shape === "pae") return level === LEVEL_PD && bit(entry, PTE_PS_BIT) ? "2M" : undefined;
  if ((level === LEVEL_PD || level === LEVEL_PDPT) && bit(entry, PTE_PS_BIT)) return level === LEVEL_PD ? "2M" : "1G";
  return undefined;
}

/**
 * What an entry allows on its own: "W", "U", "X" (fetches: XD clear or
 * EFER.NXE=0), and "leaf 4K/2M/4M/1G". A PAE PDPTE restricts nothing (it has
 * no R/W, U/S or XD: SDM 4.6.1).
 */
export function allowsOf(entry: bigint, leafSize: string | undefined, nxe: boolean, givesRights = true): string[] {
  if (!bit(entry, PTE_P_BIT)) return [];
  const a: string[] = [];
  if (!givesRights || bit(entry, PTE_RW_BIT)) a.push("W");
  if (!givesRights || bit(entry, PTE_US_BIT)) a.push("U");
  if (!givesRights || !(nxe && bit(entry, PTE_XD_BIT))) a.push("X");
  if (leafSize !== undefined) a.push(`leaf ${leafSize}`);
  return a;
}

/** Which reserved bits an entry of a walk of shape `shape` sets, in words (for a RSVD fault). */
export function reservedBitsOf(level: number, entry: bigint, cpu: RuleCpu, shape: Shape = "long"): string {
  const reasons: string[] = [];
  const phys = (1n << BigInt(cpu.maxphyaddr)) - 1n;
  const nxe = bit(cpu.efer, EFER_NXE_BIT);
  if (shape === "32-bit") {
    // Only a 4 MiB PDE reserves bits: 21, and PSE-36 bits for PA bits at or above M = min(MAXPHYADDR, 40).
    const m = Math.min(cpu.maxphyaddr, 40);
    return `reserved bit set: bits 21:${m - 19} of a 4 MiB PDE (bit 21, and PSE-36 address bits at or above MAXPHYADDR ${cpu.maxphyaddr})`;
  }
  const top = shape === "pae" ? 62 : PTE_ADDR_TOP_BIT;
  const addrBits = ((1n << BigInt(top + 1)) - 1n) & ~0xfffn;
  if ((entry & addrBits & ~phys) !== 0n) reasons.push(`address bits at or above MAXPHYADDR (${cpu.maxphyaddr}${shape === "pae" ? ", up to bit 62" : ""})`);
  if (!nxe && bit(entry, PTE_XD_BIT)) reasons.push("XD (bit 63) with EFER.NXE=0");
  if (shape === "long" && level >= LEVEL_PML4 && bit(entry, PTE_PS_BIT)) reasons.push(`PS in a ${LEVEL_NAMES[level]}E`);
  const size = leafSizeOf(level, entry, shape);
  if (size === "2M" || size === "1G") {
    const hi = size === "2M" ? 20 : 29;
    const low = ((1n << BigInt(hi + 1)) - 1n) & ~((1n << BigInt(PTE_PAT_LARGE_BIT + 1)) - 1n);
    if ((entry & low) !== 0n) reasons.push(`bits ${hi}:13 of a ${size === "2M" ? "2 MiB" : "1 GiB"} page's frame address`);
  }
  return reasons.length ? `reserved bit set: ${reasons.join(", ")}` : "reserved bit set";
}

/**
 * Why an access with page-fault error code `code` was denied at the end of
 * the walk `steps` (top level first; SDM 4.6, in words): the `denial` of the
 * rule in RIGHTS_RULES that failed, in the order the processor applies them
 * (the protection key first when the error code says PK).
 */
export function denialReason(code: number, cpu: RuleCpu, access: { op: Op; cpl: number; ac: boolean }, steps: StepLike[]): string {
  const checks = permissionChecks(cpu, access, steps, false);
  const failed = (name: string) => checks.find((c) => c.name === name && c.applies && !c.pass);
  const order = (code & PFEC_PK) !== 0 ? ["PK"] : ["U/S", "XD", "SMEP", "SMAP", "R/W"];
  for (const name of order) {
    const c = failed(name);
    if (c?.denial) return c.denial;
  }
  return `access denied (error code 0x${code.toString(16)})`;
}

// ---- Facts for explainers (`explain`, `run --trace`, the web page) ----

const PTE_ADDR_MASK = ((1n << BigInt(PTE_ADDR_TOP_BIT + 1)) - 1n) & ~0xfffn;
/** The table an entry of each level points to (legacy PDPTEs and PDEs point to a page directory and a page table). */
const NEXT_LEVEL: Record<string, string> = { PML5: "PML4", PML4: "PDPT", PDPT: "PD", PD: "PT", PDPTE: "PD", PDE: "PT" };
const LEVEL_NUMBER: Record<string, number> = {
  PML5: LEVEL_PML5, PML4: LEVEL_PML4, PDPT: LEVEL_PDPT, PD: LEVEL_PD, PT: LEVEL_PT, PDPTE: LEVEL_PDPT, PDE: LEVEL_PD, PTE: LEVEL_PT,
};

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
  const pte = level === "PT" || level === "PTE";
  if (bit(entry, PTE_PS_BIT)) f.push(pte ? "PAT" : "PS");
  if (bit(entry, PTE_G_BIT)) f.push("G");
  if (!pte && bit(entry, PTE_PS_BIT) && bit(entry, PTE_PAT_LARGE_BIT)) f.push("PAT");
  const key = Number((entry >> BigInt(PTE_PK_SHIFT)) & 0xfn);
  if (key !== 0) f.push(`PK=${key}`);
  if (bit(entry, PTE_XD_BIT)) f.push("XD");
  return f;
}

/** Where a present entry points: the next table, or (a leaf) the page frame. Undefined when P=0. */
export type EntryTarget = { kind: "table"; level: string; paddr: bigint } | { kind: "page"; size: "4K" | "2M" | "4M" | "1G"; paddr: bigint };

/**
 * Where entry `entry` of level `level` points. Legacy names (PDE, PTE,
 * PDPTE) are 32-bit paging's unless `legacy.pae`; a 32-bit PDE with PS maps
 * 4 MiB only with CR4.PSE (`legacy.pse`, default true), its bits 20:13 then
 * giving physical-address bits 39:32 (PSE-36).
 */
export function targetOf(level: string, entry: bigint, legacy: { pae?: boolean; pse?: boolean } = {}): EntryTarget | undefined {
  const n = levelNumber(level);
  const shape = shapeOfName(level, legacy.pae);
  const size = leafSizeOf(n, entry, shape, legacy.pse ?? true) as "4K" | "2M" | "4M" | "1G" | undefined;
  if (!bit(entry, PTE_P_BIT)) return undefined;
  const mask = shape === "32-bit" ? 0xfffff000n : shape === "pae" ? ((1n << 52n) - 1n) & ~0xfffn : PTE_ADDR_MASK;
  if (size === undefined) return { kind: "table", level: NEXT_LEVEL[level] ?? "?", paddr: entry & mask };
  if (size === "4M") return { kind: "page", size, paddr: (entry & 0xffc00000n) | (((entry >> 13n) & 0xffn) << 32n) };
  const low = size === "4K" ? 0xfffn : size === "2M" ? 0x1fffffn : 0x3fffffffn;
  return { kind: "page", size, paddr: entry & mask & ~low };
}

/** "4 KiB", "2 MiB", "4 MiB", "1 GiB". */
export const SIZE_WORDS: Record<string, string> = { "4K": "4 KiB", "2M": "2 MiB", "4M": "4 MiB", "1G": "1 GiB" };

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

/**
 * The rights rules of SDM 4.6 for people, one entry each: what the rule
 * requires (`rule`) and the stop reason of an access it denies (`denial`).
 * permissionChecks() reports them rule by rule (explain's check list) and
 * denialReason() quotes the denial of the one that failed (run --trace).
 */
export const RIGHTS_RULES = {
  "U/S": {
    rule: "a user-mode access needs U/S=1 in every entry",
    denial: "user-mode access to a supervisor-mode page (U/S=0 in some entry)",
  },
  "R/W": {
    rule: { user: "a user-mode write needs R/W=1 in every entry", supervisor: "with CR0.WP=1, a supervisor-mode write needs R/W=1 in every entry" },
    denial: { user: "user-mode write to a read-only page (R/W=0 in some entry)", supervisor: "supervisor-mode write to a read-only page with CR0.WP=1" },
  },
  XD: {
    rule: "with EFER.NXE=1, an instruction fetch needs XD=0 in every entry",
    denial: "instruction fetch from an execute-disable page (XD=1 in some entry)",
  },
  SMEP: {
    rule: "with CR4.SMEP=1, a supervisor-mode fetch from a user-mode page faults",
    denial: "SMEP: supervisor-mode fetch from a user-mode page",
  },
  SMAP: {
    rule: "with CR4.SMAP=1, a supervisor-mode data access to a user-mode page needs EFLAGS.AC=1",
    denial: "SMAP: supervisor-mode data access to a user-mode page with EFLAGS.AC=0",
  },
  PK: {
    rule: (reg: string, key: number) => `protection key ${key} of the page: ${reg}.AD${key}=1 denies data accesses, ${reg}.WD${key}=1 denies writes`,
    denial: (reg: string, key: number, ad: boolean) =>
      ad ? `protection key ${key}: access disabled (${reg}.AD${key}=1)` : `protection key ${key}: write disabled (${reg}.WD${key}=1)`,
  },
} as const;

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
  /** When the rule applies and fails: the access's stop reason (RIGHTS_RULES). */
  denial?: string;
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
 * The walk's shape (32-bit, PAE, long mode) comes from the registers: a PAE
 * PDPTE gives no rights, XD exists only in 8-byte entries, protection keys
 * only in long mode.
 */
export function permissionChecks(
  cpu: RuleCpu,
  access: { op: Op; cpl: number; ac: boolean },
  steps: StepLike[],
  reservedFault: boolean,
): Check[] {
  const checks: Check[] = [];
  if (steps.length === 0) return checks;
  const shape = shapeOf(cpu);
  const last = steps[steps.length - 1]!;
  const P_RULE = "every entry of the walk is present (P=1)";
  if (!bit(last.entry, PTE_P_BIT)) {
    checks.push({ name: "P", rule: P_RULE, applies: true, pass: false, why: `the ${last.level} entry has P=0` });
    return checks;
  }
  checks.push({ name: "P", rule: P_RULE, applies: true, pass: true, why: "P=1 at every level" });
  if (reservedFault) {
    const why = `the ${last.level} entry: ${reservedBitsOf(levelNumber(last.level), last.entry, cpu, shape)}`;
    checks.push({ name: "RSVD", rule: "no entry sets a reserved bit", applies: true, pass: false, why });
    return checks;
  }
  checks.push({ name: "RSVD", rule: "no entry sets a reserved bit", applies: true, pass: true, why: "no reserved bit set" });

  // The entries that give rights: all but a PAE PDPTE (SDM 4.6.1).
  const rights = steps.filter((s) => s.level !== "PDPTE");
  const user = rights.every((s) => bit(s.entry, PTE_US_BIT));
  const writable = rights.every((s) => bit(s.entry, PTE_RW_BIT));
  const nxe = bit(cpu.efer, EFER_NXE_BIT) && shape !== "32-bit";
  const xd = nxe && rights.some((s) => bit(s.entry, PTE_XD_BIT));
  const wp = bit(cpu.cr0, CR0_WP_BIT);
  const sup = access.cpl !== 3;
  const data = access.op !== "fetch";
  const firstWithout = (b: number) => rights.find((s) => !bit(s.entry, b))?.level;
  const denied = (c: Omit<Check, "denial">, denial: string): Check => (c.applies && !c.pass ? { ...c, denial } : c);

  const R = RIGHTS_RULES;
  checks.push(
    sup
      ? { name: "U/S", rule: R["U/S"].rule, applies: false, pass: true, why: "supervisor-mode access (CPL 0)" }
      : denied({ name: "U/S", rule: R["U/S"].rule, applies: true, pass: user, why: user ? "U/S=1 at every level" : `U/S=0 in the ${firstWithout(PTE_US_BIT)} entry` }, R["U/S"].denial),
  );
  const rwApplies = access.op === "write" && (!sup || wp);
  checks.push(denied({
    name: "R/W",
    rule: sup ? R["R/W"].rule.supervisor : R["R/W"].rule.user,
    applies: rwApplies,
    pass: !rwApplies || writable,
    why: access.op !== "write" ? "not a write" : !rwApplies ? "supervisor write with CR0.WP=0" : writable ? "R/W=1 at every level" : `R/W=0 in the ${firstWithout(PTE_RW_BIT)} entry`,
  }, sup ? R["R/W"].denial.supervisor : R["R/W"].denial.user));
  const xdApplies = access.op === "fetch" && nxe;
  checks.push(denied({
    name: "XD",
    rule: R.XD.rule,
    applies: xdApplies,
    pass: !xd,
    why: access.op !== "fetch"
      ? "not an instruction fetch"
      : shape === "32-bit"
        ? "32-bit paging has no XD bit"
        : !nxe
          ? "EFER.NXE=0"
          : xd ? `XD=1 in the ${rights.find((s) => bit(s.entry, PTE_XD_BIT))!.level} entry` : "XD=0 at every level",
  }, R.XD.denial));
  const smep = bit(cpu.cr4, CR4_SMEP_BIT);
  const smepApplies = smep && sup && !data;
  checks.push(denied({
    name: "SMEP",
    rule: R.SMEP.rule,
    applies: smepApplies,
    pass: !(smepApplies && user),
    why: !smep ? "CR4.SMEP=0" : !sup ? "user-mode access" : data ? "not an instruction fetch" : user ? "supervisor fetch from a user-mode page" : "the page is a supervisor-mode page",
  }, R.SMEP.denial));
  const smap = bit(cpu.cr4, CR4_SMAP_BIT);
  const smapApplies = smap && sup && data;
  checks.push(denied({
    name: "SMAP",
    rule: R.SMAP.rule,
    applies: smapApplies,
    pass: !(smapApplies && user && !access.ac),
    why: !smap ? "CR4.SMAP=0" : !sup ? "user-mode access" : !data ? "an instruction fetch" : !user ? "the page is a supervisor-mode page" : access.ac ? "EFLAGS.AC=1 lifts SMAP" : "user-mode page with EFLAGS.AC=0",
  }, R.SMAP.denial));
  // Protection keys (SDM 4.6.2): PKRU for user-mode pages (CR4.PKE), IA32_PKRS for supervisor-mode pages (CR4.PKS); long mode only.
  const longMode = shape === "long";
  const keyOn = longMode && (user ? bit(cpu.cr4, CR4_PKE_BIT) : bit(cpu.cr4, CR4_PKS_BIT));
  const reg = user ? "PKRU" : "IA32_PKRS";
  const key = longMode ? Number((last.entry >> BigInt(PTE_PK_SHIFT)) & 0xfn) : 0;
  const pkRights = user ? cpu.pkru : cpu.pkrs;
  const ad = bit(pkRights, 2 * key);
  const wd = bit(pkRights, 2 * key + 1);
  const pkApplies = keyOn && data && !(!user && !sup);
  const pkDenied = pkApplies && (ad || (access.op === "write" && wd && (!sup || wp)));
  checks.push(denied({
    name: "PK",
    rule: R.PK.rule(reg, key),
    applies: pkApplies,
    pass: !pkDenied,
    why: !longMode
      ? "protection keys exist only with 4-level and 5-level paging"
      : !keyOn
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
  }, R.PK.denial(reg, key, ad)));
  return checks;
}
