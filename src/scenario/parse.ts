/**
 * Parsing and validation of the scenario format, version 1
 * (docs/scenario-format.md). Everything the format says is checked here, so
 * that an engine only ever sees a well-formed {@link Scenario}.
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
 * - CR3 is not checked beyond being a 64-bit hex value: engines use its bits
 *   51:12 as the root table address.
 */
import type { Access, CpuState, MemoryRegion, Op, Scenario } from "./types.js";
import {
  CR0_PE_BIT,
  CR0_PG_BIT,
  CR4_PAE_BIT,
  EFER_LMA_BIT,
  EFER_LME_BIT,
  MAXPHYADDR_MAX,
  MAXPHYADDR_MIN,
} from "../arch/index.js";

/** An input that breaks the scenario format. */
export class ScenarioError extends Error {
  readonly code = "SCENARIO_FORMAT";
  /** The scenario's name, or `#N` / `line N` when it has none. */
  readonly scenario: string;
  /** JSON path of the offending field, e.g. `accesses[2].size`; "" for the whole input. */
  readonly field: string;
  /** What is wrong, without the scenario and field. */
  readonly problem: string;

  constructor(scenario: string, field: string, problem: string) {
    const label = scenario.startsWith("#") || scenario.startsWith("line ") ? scenario : JSON.stringify(scenario);
    super(`scenario ${label}${field ? " " + field : ""}: ${problem}`);
    this.name = "ScenarioError";
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
    s = String(v);
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

const TOP_KEYS = ["name", "cpu", "memory", "accesses"] as const;
const CPU_KEYS = ["cr0", "cr3", "cr4", "efer", "pkru", "pkrs", "maxphyaddr"] as const;
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
  const need = (reg: bigint, field: string, bit: number, what: string): void => {
    if (((reg >> BigInt(bit)) & 1n) === 0n) {
      c.fail(field, `${what} (bit ${bit}) must be set: the format requires long mode (CR0.PG, CR0.PE, CR4.PAE, EFER.LME, EFER.LMA)`);
    }
  };
  need(cr0, "cpu.cr0", CR0_PE_BIT, "CR0.PE");
  need(cr0, "cpu.cr0", CR0_PG_BIT, "CR0.PG");
  need(cr4, "cpu.cr4", CR4_PAE_BIT, "CR4.PAE");
  need(efer, "cpu.efer", EFER_LME_BIT, "EFER.LME");
  need(efer, "cpu.efer", EFER_LMA_BIT, "EFER.LMA");
  return { cr0, cr3, cr4, efer, pkru, pkrs, maxphyaddr };
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
  const accesses = accRaw.map((a, i) => parseAccess(c, a, `accesses[${i}]`));
  return { name, cpu, memory, accesses };
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
