/**
 * The output side of the scenario format, versions 1 and 2
 * (docs/scenario-format.md; version 2 changes no output field): a
 * {@link ScenarioResult} as the JSON object `x86mmu run` prints.
 */
import type { AccessResult, ScenarioResult, StepResult, WalkStep } from "./types.js";

/** Lowercase hex with a `0x` prefix and no leading zeros (`0x0` for zero). */
export function hex(v: bigint): string {
  if (v < 0n) throw new RangeError(`hex: negative value ${v}`);
  return "0x" + v.toString(16);
}

export interface FormatOptions {
  /** Include each access's `walk`. */
  trace?: boolean;
}

function formatStep(s: WalkStep): object {
  const o: Record<string, unknown> = {
    level: s.level,
    table: hex(s.table),
    index: s.index,
    entry_addr: hex(s.entryAddr),
    entry: hex(s.entry),
    allows: [...s.allows],
  };
  if (s.stop !== undefined) o.stop = s.stop;
  if (s.gpa !== undefined) o.gpa = hex(s.gpa); // nested paging: a nested step, and the gPA it translates
  return o;
}

/** A TLB step's result (the TLB extension): `{ step, ok }`, with the #GP as an access's. */
function formatStepResult(r: StepResult): object {
  const on = r.cpu !== undefined ? { cpu: r.cpu } : {};
  return r.ok ? { ...on, step: r.step, ok: true } : { ...on, step: r.step, ok: false, fault: r.fault, error_code: hex(r.errorCode) };
}

function formatAccess(r: AccessResult | StepResult, trace: boolean): object {
  if ("step" in r) return formatStepResult(r);
  // Several CPUs (the extension): the CPU first.
  const o: Record<string, unknown> = r.cpu !== undefined ? { cpu: r.cpu, ok: r.ok } : { ok: r.ok };
  if (r.ok) {
    o.pa = hex(r.pa);
    if (r.value !== undefined) o.value = hex(r.value);
  } else if (r.fault === "NPF") {
    // Nested paging: #VMEXIT(NPF) with its exit information (docs/nested-paging.md).
    o.fault = r.fault;
    o.exitinfo1 = hex(r.exitinfo1);
    o.exitinfo2 = hex(r.exitinfo2);
  } else {
    o.fault = r.fault;
    o.error_code = hex(r.errorCode);
    if (r.fault === "PF") o.cr2 = hex(r.cr2);
  }
  if (r.tlb !== undefined) o.tlb = r.tlb;
  if (trace) o.walk = (r.walk ?? []).map(formatStep);
  // Nested paging: the same steps grouped per page walked and by guest level (explain's grid).
  if (trace && r.nestedWalk?.length) {
    o.nested_walk = r.nestedWalk.map((p) => ({
      levels: p.levels.map((l) => ({
        gpa: hex(l.gpa),
        nested: l.nested.map(formatStep),
        ...(l.hpa !== undefined ? { hpa: hex(l.hpa) } : {}),
        ...(l.guest ? { guest: formatStep(l.guest) } : {}),
      })),
      ...(p.final ? { final: { gpa: hex(p.final.gpa), nested: p.final.nested.map(formatStep), ...(p.final.hpa !== undefined ? { hpa: hex(p.final.hpa) } : {}) } } : {}),
    }));
  }
  return o;
}

/** One scenario's result as the output JSON object of the format. */
export function formatResult(r: ScenarioResult, options?: FormatOptions): object {
  const trace = options?.trace === true;
  return {
    name: r.name,
    results: r.results.map((a) => formatAccess(a, trace)),
    memory: r.memory.map((m) => ({ paddr: hex(m.paddr), value: hex(m.value) })),
  };
}

/**
 * The text `run` prints: pretty JSON (2-space indent) per scenario for a
 * `.json` input, one compact line per scenario for `.jsonl`; each object is
 * followed by a newline.
 */
export function formatResults(results: ScenarioResult[], options: { jsonl: boolean; trace?: boolean }): string {
  const objs = results.map((r) => formatResult(r, { trace: options.trace }));
  return objs.map((o) => (options.jsonl ? JSON.stringify(o) : JSON.stringify(o, null, 2)) + "\n").join("");
}
