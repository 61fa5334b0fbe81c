/**
 * Parsing and validation of the scenario format, version 2
 * (docs/scenario-format.md; version 1 files keep their meaning). Everything
 * the format says is checked here, so that an engine only ever sees a
 * well-formed {@link Scenario}.
 *
 * Choices where the format is silent:
 * - Unknown keys (at the top level, in `cpu`, in a memory region or in an
 *   access) are rejected with a {@link ScenarioError}: a misspelt optional key
 *   (`"acc": true`) would otherwise silently fall back to its default.
 * - Hex strings take a `0x` or `0X` prefix and at least one digit; leading
 *   zeros are allowed; a value that needs more than 64 bits is an error.
 * - `pkru` and `pkrs` are 32-bit registers (PKRU; IA32_PKRS bits 63:32 are
 *   reserved): a value above 0xffffffff is an error.
 * - `value` is accepted only on a `write` (on a read or fetch it is an error,
 *   since it would be ignored); on a write it must fit in `size` bytes.
 * - A `qwords` array must not be empty (as `count` must be positive).
 * - `name` is optional (the error messages then use `#N` or `line N`); when
 *   absent the scenario's name is the empty string.
 * - `accesses` is required but may be empty; `memory` is required but may be
 *   empty.
 * - CR3 is not checked beyond being a 64-bit hex value (a 32-bit one outside
 *   long mode): engines use its bits 51:12 as the root table address (31:12
 *   with 32-bit paging, 31:5 with PAE paging).
 * - Version 2 (the paging mode, {@link pagingMode}): each malformed register
 *   combination is reported on the register the rule is about: CR0.PG without
 *   CR0.PE on `cpu.cr0`; long mode without CR4.PAE on `cpu.cr4`; an EFER.LMA
 *   that is not CR0.PG AND EFER.LME on `cpu.efer`; bits above 31 on the
 *   register that has them; CR4.PCIDE or CR4.LA57 outside long mode on
 *   `cpu.cr4`; a `va` of 2^32 or more outside long mode on that access's `va`.
 */
import { X86MmuError, ArgumentError, show } from "../base/index.js";
import type { Access, CpuState, Invalidate, MemoryRegion, Op, PagingMode, Scenario, SequenceItem, TlbStep } from "./types.js";
import type { NptState } from "./types.js";
import {
  CR0_PE_BIT,
  CR0_PG_BIT,
  CR4_LA57_BIT,
  CR4_PAE_BIT,
  CR4_PCIDE_BIT,
  EFER_LMA_BIT,
  EFER_LME_BIT,
  MAXPHYADDR_MAX,
  MAXPHYADDR_MIN,
} from "../arch/index.js";

/** An input that breaks the scenario format. */
export class ScenarioError extends X86MmuError {
  /** The scenario's name, or `#N` / `line N` when it has none. */
  readonly scenario: string;
  /** JSON path of the offending field, e.g. `accesses[2].size`; "" for the whole input. */
  readonly field: string;
  /** What is wrong, without the scenario and field. */
  readonly problem: string;

  constructor(scenario: string, field: string, problem: string) {
    const label = scenario.startsWith("#") || scenario.startsWith("line ") ? scenario : JSON.stringify(scenario);
    super("SCENARIO_FORMAT", `scenario ${label}${field ? " " + field : ""}: ${problem}`);
    this.scenario = scenario;
    this.field = field;
    this.problem = problem;
  }
}

const U64_MAX = (1n << 64n) - 1n;
const HEX_RE = /^0[xX][0-9a-fA-F]+$/;

function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    // Nested too deeply to print (both overflow the stack), or not printable.
    s = Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : typeof v;
  }
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function has(o: Record<string, unknown>, k: string): boolean {
  return Object.prototype.hasOwnProperty.call(o, k);
}

class Checker {
  constructor(readonly scenario: string) {}

  fail(field: string, problem: string): never {
    throw new ScenarioError(this.scenario, field, problem);
  }

  object(v: unknown, field: string): Record<string, unknown> {
    if (!isObject(v)) this.fail(field, `must be an object, got ${describe(v)}`);
    return v;
  }

  keys(o: Record<string, unknown>, field: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) {
        const path = field ? `${field}.${k}` : k;
        this.fail(path, `unknown key (allowed: ${allowed.join(", ")})`);
      }
    }
  }

  required(o: Record<string, unknown>, k: string, field: string): unknown {
    if (!has(o, k) || o[k] === undefined) this.fail(field, "is required");
    return o[k];
  }

  hex(v: unknown, field: string, bits = 64): bigint {
    if (typeof v !== "string") this.fail(field, `must be a 0x-prefixed hex string, got ${describe(v)}`);
    if (!HEX_RE.test(v)) this.fail(field, `must be a 0x-prefixed hex string, got ${describe(v)}`);
    const n = BigInt(v);
    if (n > U64_MAX) this.fail(field, `does not fit in 64 bits: ${v}`);
    if (bits < 64 && n >> BigInt(bits) !== 0n) this.fail(field, `does not fit in ${bits} bits: ${v}`);
    return n;
  }

  integer(v: unknown, field: string): number {
    if (typeof v !== "number" || !Number.isInteger(v)) this.fail(field, `must be an integer, got ${describe(v)}`);
    return v;
  }
}

const TOP_KEYS = ["name", "cpu", "memory", "accesses", "cpus"] as const;
/** The most CPUs a scenario may have (the several-CPU extension). */
export const MAX_SCENARIO_CPUS = 64;
const CPU_KEYS = ["cr0", "cr3", "cr4", "efer", "pkru", "pkrs", "maxphyaddr", "npt"] as const;
const REGION_KEYS = ["paddr", "qwords", "fill", "count"] as const;
const ACCESS_KEYS = ["va", "op", "size", "cpl", "ac", "value"] as const;

function parseCpu(c: Checker, v: unknown): CpuState {
  const o = c.object(v, "cpu");
  c.keys(o, "cpu", CPU_KEYS);
  const cr0 = c.hex(c.required(o, "cr0", "cpu.cr0"), "cpu.cr0");
  const cr3 = c.hex(c.required(o, "cr3", "cpu.cr3"), "cpu.cr3");
  const cr4 = c.hex(c.required(o, "cr4", "cpu.cr4"), "cpu.cr4");
  const efer = c.hex(c.required(o, "efer", "cpu.efer"), "cpu.efer");
  const pkru = has(o, "pkru") ? c.hex(o.pkru, "cpu.pkru", 32) : 0n;
  const pkrs = has(o, "pkrs") ? c.hex(o.pkrs, "cpu.pkrs", 32) : 0n;
  let maxphyaddr = MAXPHYADDR_MAX;
  if (has(o, "maxphyaddr")) {
    maxphyaddr = c.integer(o.maxphyaddr, "cpu.maxphyaddr");
    if (maxphyaddr < MAXPHYADDR_MIN || maxphyaddr > MAXPHYADDR_MAX) {
      c.fail("cpu.maxphyaddr", `must be an integer from ${MAXPHYADDR_MIN} to ${MAXPHYADDR_MAX}, got ${maxphyaddr}`);
    }
  }
  checkPagingMode(c, { cr0, cr3, cr4, efer });
  // MOV to CR3 with a bit at or above MAXPHYADDR would #GP (bit 63, the PCID no-flush hint, is not stored).
  const cr3Reserved = cr3 & ~((1n << BigInt(maxphyaddr)) - 1n) & ~(1n << 63n);
  if (cr3Reserved !== 0n) c.fail("cpu.cr3", `sets bits at or above MAXPHYADDR (${maxphyaddr}): 0x${cr3.toString(16)} (the MOV to CR3 would #GP)`);
  const cpu: CpuState = { cr0, cr3, cr4, efer, pkru, pkrs, maxphyaddr };
  if (has(o, "npt")) cpu.npt = parseNpt(c, o.npt, cpu);
  return cpu;
}

// ---- Nested paging (AMD SVM NPT, docs/nested-paging.md) ----

const NPT_KEYS = ["ncr3", "nxe"] as const;

/**
 * `cpu.npt`: `ncr3` (required, a 64-bit hex value, like CR3 not checked
 * further: the nested walk uses its bits 51:12) and `nxe` (the host's
 * EFER.NXE, a boolean, default true). The guest (`cpu`'s registers, already
 * checked) must be in long mode: the format does not cover a legacy guest
 * under nested paging.
 */
function parseNpt(c: Checker, v: unknown, guest: Pick<CpuState, "cr0" | "cr4" | "efer">): NptState {
  const o = c.object(v, "cpu.npt");
  c.keys(o, "cpu.npt", NPT_KEYS);
  const ncr3 = c.hex(c.required(o, "ncr3", "cpu.npt.ncr3"), "cpu.npt.ncr3");
  let nxe = true;
  if (has(o, "nxe")) {
    if (typeof o.nxe !== "boolean") c.fail("cpu.npt.nxe", `must be true or false, got ${describe(o.nxe)}`);
    nxe = o.nxe;
  }
  const mode = pagingMode(guest);
  if (!isLongMode(mode)) {
    c.fail(
      "cpu.npt",
      `nested paging needs a long-mode guest (4-level or 5-level paging), but the guest's cr0/cr4/efer select ${mode === "none" ? "no paging" : `${mode} paging`}: legacy guest modes under nested paging are not covered by the format`,
    );
  }
  return { ncr3, nxe };
}

const isSet = (reg: bigint, bit: number): boolean => ((reg >> BigInt(bit)) & 1n) === 1n;

/**
 * The paging mode the registers select (format version 2, SDM 4.1.1):
 * CR0.PG = 0: no paging; CR0.PG = 1 with CR4.PAE = 0: 32-bit paging; with
 * CR4.PAE = 1 and EFER.LME = 0: PAE paging; with EFER.LME = 1: 4-level or,
 * with CR4.LA57, 5-level paging. Meaningful for registers the parser accepted.
 */
export function pagingMode(cpu: Pick<CpuState, "cr0" | "cr4" | "efer">): PagingMode {
  if (!isSet(cpu.cr0, CR0_PG_BIT)) return "none";
  if (!isSet(cpu.cr4, CR4_PAE_BIT)) return "32-bit";
  if (!isSet(cpu.efer, EFER_LME_BIT)) return "pae";
  return isSet(cpu.cr4, CR4_LA57_BIT) ? "5-level" : "4-level";
}

/** Is `mode` one of the long-mode (IA-32e) paging modes? */
export function isLongMode(mode: PagingMode): boolean {
  return mode === "4-level" || mode === "5-level";
}

/**
 * Version 2: refuses the register combinations no processor reaches (the MOV
 * that would set them raises #GP) and, outside long mode, the bits that
 * cannot be set there. Version-1 scenarios (long mode) pass unchanged.
 */
function checkPagingMode(c: Checker, r: { cr0: bigint; cr3: bigint; cr4: bigint; efer: bigint }): void {
  const pg = isSet(r.cr0, CR0_PG_BIT);
  const lme = isSet(r.efer, EFER_LME_BIT);
  const lma = isSet(r.efer, EFER_LMA_BIT);
  if (pg && !isSet(r.cr0, CR0_PE_BIT)) {
    c.fail("cpu.cr0", "CR0.PG (bit 31) is set but CR0.PE (bit 0) is clear: paging needs protected mode (the MOV to CR0 would #GP)");
  }
  if (pg && lme && !isSet(r.cr4, CR4_PAE_BIT)) {
    c.fail("cpu.cr4", "CR4.PAE (bit 5) must be set when CR0.PG and EFER.LME are: long mode needs PAE (the MOV to CR0 would #GP)");
  }
  if (lma !== (pg && lme)) {
    c.fail(
      "cpu.efer",
      `EFER.LMA (bit 10) is ${lma ? 1 : 0} but CR0.PG AND EFER.LME is ${pg && lme ? 1 : 0}: LMA reports whether long mode is active, it must equal CR0.PG AND EFER.LME`,
    );
  }
  if (isLongMode(pagingMode(r))) return;
  for (const [name, reg] of [["cr0", r.cr0], ["cr3", r.cr3], ["cr4", r.cr4]] as const) {
    if (reg >> 32n !== 0n) {
      c.fail(`cpu.${name}`, `must fit in 32 bits outside long mode, got 0x${reg.toString(16)}`);
    }
  }
  if (isSet(r.cr4, CR4_PCIDE_BIT)) c.fail("cpu.cr4", "CR4.PCIDE (bit 17) can be set only in long mode (IA-32e mode)");
  if (isSet(r.cr4, CR4_LA57_BIT)) c.fail("cpu.cr4", "CR4.LA57 (bit 12) can be set only in long mode (it selects 5-level paging)");
}

/** Version 2: outside long mode, linear addresses have 32 bits. */
function checkLinearAddress(c: Checker, mode: PagingMode, a: Access, field: string): Access {
  if (!isLongMode(mode) && a.va >> 32n !== 0n) {
    c.fail(`${field}.va`, `must be below 2^32 outside long mode (a 32-bit linear address), got 0x${a.va.toString(16)}`);
  }
  return a;
}

function parseRegion(c: Checker, v: unknown, field: string): MemoryRegion {
  const o = c.object(v, field);
  c.keys(o, field, REGION_KEYS);
  const paddr = c.hex(c.required(o, "paddr", `${field}.paddr`), `${field}.paddr`);
  if (paddr % 8n !== 0n) c.fail(`${field}.paddr`, `must be 8-byte aligned, got 0x${paddr.toString(16)}`);
  const hasQ = has(o, "qwords");
  const hasF = has(o, "fill");
  const hasC = has(o, "count");
  if (hasQ && (hasF || hasC)) c.fail(field, "must have either qwords or fill + count, not both");
  if (hasQ) {
    const q = o.qwords;
    if (!Array.isArray(q)) c.fail(`${field}.qwords`, `must be an array of hex strings, got ${describe(q)}`);
    if (q.length === 0) c.fail(`${field}.qwords`, "must not be empty");
    const qwords = q.map((w, i) => c.hex(w, `${field}.qwords[${i}]`));
    return { paddr, qwords };
  }
  if (!hasF && !hasC) c.fail(field, "must have either qwords or fill + count");
  if (!hasF) c.fail(`${field}.fill`, "is required with count");
  if (!hasC) c.fail(`${field}.count`, "is required with fill");
  const fill = c.hex(o.fill, `${field}.fill`);
  const count = c.integer(o.count, `${field}.count`);
  if (count < 1) c.fail(`${field}.count`, `must be a positive integer, got ${count}`);
  return { paddr, fill, count };
}

function regionWords(r: MemoryRegion): bigint {
  return "qwords" in r ? BigInt(r.qwords.length) : BigInt(r.count);
}

function parseMemory(c: Checker, v: unknown, maxphyaddr: number): MemoryRegion[] {
  if (!Array.isArray(v)) c.fail("memory", `must be an array of regions, got ${describe(v)}`);
  const regions = v.map((r, i) => parseRegion(c, r, `memory[${i}]`));
  const limit = 1n << BigInt(maxphyaddr);
  const spans = regions.map((r, i) => ({ i, start: r.paddr, end: r.paddr + 8n * regionWords(r) }));
  for (const s of spans) {
    if (s.end > limit) {
      c.fail(
        `memory[${s.i}]`,
        `region 0x${s.start.toString(16)}..0x${(s.end - 1n).toString(16)} does not lie below 2^maxphyaddr (0x${limit.toString(16)}, maxphyaddr ${maxphyaddr})`,
      );
    }
  }
  const sorted = [...spans].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.i - b.i));
  for (let k = 1; k < sorted.length; k++) {
    const a = sorted[k - 1]!;
    const b = sorted[k]!;
    if (b.start < a.end) {
      const [first, second] = a.i < b.i ? [a, b] : [b, a];
      c.fail(
        `memory[${second.i}]`,
        `overlaps memory[${first.i}] (0x${first.start.toString(16)}..0x${(first.end - 1n).toString(16)} and 0x${second.start.toString(16)}..0x${(second.end - 1n).toString(16)})`,
      );
    }
  }
  return regions;
}

function parseAccess(c: Checker, v: unknown, field: string): Access {
  const o = c.object(v, field);
  c.keys(o, field, ACCESS_KEYS);
  const va = c.hex(c.required(o, "va", `${field}.va`), `${field}.va`);
  const opRaw = c.required(o, "op", `${field}.op`);
  if (opRaw !== "read" && opRaw !== "write" && opRaw !== "fetch") {
    c.fail(`${field}.op`, `must be "read", "write" or "fetch", got ${describe(opRaw)}`);
  }
  const op: Op = opRaw;
  let size: 1 | 2 | 4 | 8 = 1;
  if (has(o, "size")) {
    const s = o.size;
    if (s !== 1 && s !== 2 && s !== 4 && s !== 8) c.fail(`${field}.size`, `must be 1, 2, 4 or 8, got ${describe(s)}`);
    if (op === "fetch" && s !== 1) c.fail(`${field}.size`, `must be 1 (or absent) for a fetch, got ${s}`);
    size = s;
  }
  let cpl: 0 | 3 = 0;
  if (has(o, "cpl")) {
    const p = o.cpl;
    if (p !== 0 && p !== 3) c.fail(`${field}.cpl`, `must be 0 or 3, got ${describe(p)}`);
    cpl = p;
  }
  let ac = false;
  if (has(o, "ac")) {
    if (typeof o.ac !== "boolean") c.fail(`${field}.ac`, `must be true or false, got ${describe(o.ac)}`);
    ac = o.ac;
  }
  let value = 0n;
  if (has(o, "value")) {
    if (op !== "write") c.fail(`${field}.value`, `is only allowed for a write, not a ${op}`);
    value = c.hex(o.value, `${field}.value`);
    if (value >> BigInt(8 * size) !== 0n) {
      c.fail(`${field}.value`, `does not fit in ${size} byte${size === 1 ? "" : "s"}: ${o.value as string}`);
    }
  }
  return { va, op, size, cpl, ac, value };
}

/**
 * Validates one scenario in its JSON form and returns its typed form.
 * `where` labels the scenario in errors when it has no name (`#N` or
 * `line N`; default `#1`). Throws {@link ScenarioError}.
 */
export function parseScenario(input: unknown, where = "#1"): Scenario {
  const label = isObject(input) && typeof input.name === "string" && input.name !== "" ? input.name : where;
  const c: Checker = new Checker(label);
  const o = c.object(input, "");
  let name = "";
  if (has(o, "name")) {
    if (typeof o.name !== "string") c.fail("name", `must be a string, got ${describe(o.name)}`);
    name = o.name;
  }
  c.keys(o, "", TOP_KEYS);
  const cpu = parseCpu(c, c.required(o, "cpu", "cpu"));
  const memory = parseMemory(c, c.required(o, "memory", "memory"), cpu.maxphyaddr);
  const accRaw = c.required(o, "accesses", "accesses");
  if (!Array.isArray(accRaw)) c.fail("accesses", `must be an array of accesses, got ${describe(accRaw)}`);
  const mode = pagingMode(cpu);
  let cpus: number | undefined;
  if (has(o, "cpus")) {
    const n = o.cpus;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_SCENARIO_CPUS) c.fail("cpus", `must be an integer 1..${MAX_SCENARIO_CPUS}, got ${describe(n)}`);
    if (cpu.npt) c.fail("cpus", "several CPUs are not part of the nested-paging format (cpu.npt)");
    cpus = n;
  }
  const items = accRaw.map((a, i): SequenceItem => {
    const field = `accesses[${i}]`;
    // The CPU an item runs on (the several-CPU extension): taken off before the item's own keys are checked.
    let on: number | undefined;
    if (isObject(a) && has(a, "cpu")) {
      if (cpus === undefined) c.fail(`${field}.cpu`, `needs the top-level "cpus" (the several-CPU extension)`);
      const k = a.cpu;
      if (typeof k !== "number" || !Number.isInteger(k) || k < 0 || k >= cpus) c.fail(`${field}.cpu`, `must be an integer 0..${cpus - 1}, got ${describe(k)}`);
      on = k;
      a = Object.fromEntries(Object.entries(a).filter(([key]) => key !== "cpu"));
    }
    const item: SequenceItem = isObject(a) && has(a, "step") ? parseStep(c, a, field, cpu, mode, cpus) : checkLinearAddress(c, mode, parseAccess(c, a, field), field);
    return on === undefined ? item : { ...item, cpu: on };
  });
  const accesses = items.filter((a): a is Access => !isTlbStep(a));
  if (accesses.length === items.length && cpus === undefined) return { name, cpu, memory, accesses };
  if (cpu.npt) c.fail("accesses", "TLB steps are not part of the nested-paging format (cpu.npt)");
  return { name, cpu, memory, accesses, sequence: items, ...(cpus !== undefined ? { cpus } : {}) };
}

/** Tells a TLB step from an access in a scenario's `sequence`. */
export const isTlbStep = (item: SequenceItem): item is TlbStep & { cpu?: number } => "step" in item;

const STEP_KEYS: Record<TlbStep["step"], readonly string[]> = {
  mov_cr3: ["step", "value"],
  invlpg: ["step", "va"],
  invpcid: ["step", "type", "pcid", "va"],
  store: ["step", "paddr", "value", "size"],
  flush: ["step"],
  shootdown: ["step", "targets", "invalidations"],
};

/**
 * One TLB step (the TLB extension). Checked here: the keys, hex values, an
 * INVPCID type of 0..3 and a PCID of 0..4095, a store inside 2^maxphyaddr
 * and naturally aligned (so it never straddles an entry), linear addresses
 * of the mode's width. Whether the processor refuses a MOV to CR3 or an
 * INVPCID (#GP) is the step's result, not a format error.
 */
function parseStep(c: Checker, o: Record<string, unknown>, field: string, cpu: CpuState, mode: PagingMode, cpus?: number): TlbStep {
  const kind = o.step;
  if (typeof kind !== "string" || !Object.hasOwn(STEP_KEYS, kind)) {
    c.fail(`${field}.step`, `must be "mov_cr3", "invlpg", "invpcid", "store", "flush" or "shootdown", got ${describe(kind)}`);
  }
  const k = kind as TlbStep["step"];
  c.keys(o, field, STEP_KEYS[k] as readonly string[]);
  const linear = (key: string): bigint => {
    const v = c.hex(c.required(o, key, `${field}.${key}`), `${field}.${key}`);
    if ((mode === "none" || mode === "32-bit" || mode === "pae") && v >> 32n !== 0n) c.fail(`${field}.${key}`, `must be below 2^32 outside long mode, got 0x${v.toString(16)}`);
    return v;
  };
  switch (k) {
    case "mov_cr3":
      return { step: k, value: c.hex(c.required(o, "value", `${field}.value`), `${field}.value`) };
    case "invlpg":
      return { step: k, va: linear("va") };
    case "flush":
      return { step: k };
    case "invpcid": {
      const type = c.required(o, "type", `${field}.type`);
      if (type !== 0 && type !== 1 && type !== 2 && type !== 3) c.fail(`${field}.type`, `must be 0, 1, 2 or 3, got ${describe(type)}`);
      let pcid = 0;
      if (has(o, "pcid")) {
        const p = o.pcid;
        if (typeof p !== "number" || !Number.isInteger(p) || p < 0 || p > 0xfff) c.fail(`${field}.pcid`, `must be an integer 0..4095, got ${describe(p)}`);
        pcid = p;
      }
      return { step: k, type, pcid, va: has(o, "va") ? linear("va") : 0n };
    }
    case "shootdown": {
      if (cpus === undefined) c.fail(`${field}.step`, `"shootdown" needs the top-level "cpus" (the several-CPU extension)`);
      const targets = c.required(o, "targets", `${field}.targets`);
      if (!Array.isArray(targets) || targets.length === 0) c.fail(`${field}.targets`, `must be a non-empty array of CPU numbers, got ${describe(targets)}`);
      targets.forEach((t, j) => {
        if (typeof t !== "number" || !Number.isInteger(t) || t < 0 || t >= cpus) c.fail(`${field}.targets[${j}]`, `must be an integer 0..${cpus - 1}, got ${describe(t)}`);
        if (targets.indexOf(t) !== j) c.fail(`${field}.targets[${j}]`, `names CPU ${t} twice`);
      });
      const list = c.required(o, "invalidations", `${field}.invalidations`);
      if (!Array.isArray(list) || list.length === 0) c.fail(`${field}.invalidations`, `must be a non-empty array of invlpg, invpcid or flush steps, got ${describe(list)}`);
      const invalidations = list.map((v, j): Invalidate => {
        const f = `${field}.invalidations[${j}]`;
        const inv = c.object(v, f);
        if (inv.step !== "invlpg" && inv.step !== "invpcid" && inv.step !== "flush") c.fail(`${f}.step`, `must be "invlpg", "invpcid" or "flush", got ${describe(inv.step)}`);
        return parseStep(c, inv, f, cpu, mode) as Invalidate;
      });
      return { step: k, targets: targets as number[], invalidations };
    }
    case "store": {
      const paddr = c.hex(c.required(o, "paddr", `${field}.paddr`), `${field}.paddr`);
      let size: 1 | 2 | 4 | 8 = 8;
      if (has(o, "size")) {
        const s = o.size;
        if (s !== 1 && s !== 2 && s !== 4 && s !== 8) c.fail(`${field}.size`, `must be 1, 2, 4 or 8, got ${describe(s)}`);
        size = s;
      }
      if (paddr % BigInt(size) !== 0n) c.fail(`${field}.paddr`, `must be aligned to the store's size (${size}), got 0x${paddr.toString(16)}`);
      if (paddr + BigInt(size) > 1n << BigInt(cpu.maxphyaddr)) c.fail(`${field}.paddr`, `must lie below 2^maxphyaddr, got 0x${paddr.toString(16)}`);
      const value = c.hex(c.required(o, "value", `${field}.value`), `${field}.value`);
      if (value >> BigInt(8 * size) !== 0n) c.fail(`${field}.value`, `does not fit in ${size} byte${size === 1 ? "" : "s"}: ${o.value as string}`);
      return { step: k, paddr, value, size };
    }
  }
}

function parseJson(text: string, where: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ScenarioError(where, "", `invalid JSON: ${(e as Error).message}`);
  }
}

/**
 * Parses the text of a scenario file. `.json`: one scenario object;
 * `.jsonl`: one scenario per non-empty line (errors name the line). For `-`
 * (stdin) and any other extension the form is detected: a text whose trimmed
 * form starts with `{` and parses as one JSON value is `.json`, anything else
 * is `.jsonl`. Throws the first ScenarioError.
 */
export function parseScenarioText(text: string, fileName: string): Scenario[] {
  return parseScenarioItems(text, fileName).items.map((item) => {
    if (item.error) throw item.error;
    return item.scenario;
  });
}

/** One item of a scenario file: the scenario, or why it cannot run. */
export type ScenarioItem = { scenario: Scenario; error?: undefined } | { scenario?: undefined; error: ScenarioError };

/**
 * Like parseScenarioText, but a broken scenario does not stop the others:
 * each item is a scenario or its error, in input order. `jsonl` says how the
 * text was read (and how `run` prints results).
 */
export function parseScenarioItems(text: string, fileName: string): { jsonl: boolean; items: ScenarioItem[] } {
  if (typeof text !== "string") throw new ArgumentError(`scenario text must be a string, not ${show(text)}`);
  if (typeof fileName !== "string") throw new ArgumentError(`the scenario file name must be a string (its extension picks JSON or JSON Lines), not ${show(fileName)}`);
  const attempt = (f: () => Scenario): ScenarioItem => {
    try {
      return { scenario: f() };
    } catch (e) {
      if (e instanceof ScenarioError) return { error: e };
      throw e;
    }
  };
  const lower = fileName.toLowerCase();
  let jsonl = lower.endsWith(".jsonl");
  if (!jsonl && !lower.endsWith(".json")) {
    const trimmed = text.trim();
    jsonl = true;
    if (trimmed.startsWith("{")) {
      try {
        JSON.parse(trimmed);
        jsonl = false;
      } catch {
        jsonl = true;
      }
    }
  }
  if (!jsonl) return { jsonl, items: [attempt(() => parseScenario(parseJson(text, "#1"), "#1"))] };
  const items: ScenarioItem[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, "");
    if (line.trim() === "") continue;
    const where = `line ${i + 1}`;
    items.push(attempt(() => parseScenario(parseJson(line, where), where)));
  }
  return { jsonl, items };
}
