/**
 * The reference engine: runs a scenario (docs/scenario-format.md) with the
 * plain TypeScript walker of walker.ts. No TLB: the format flushes every TLB
 * and paging-structure cache before each access, so each access simply walks
 * the tables memory holds at that moment.
 *
 * Accesses that cross a page boundary are translated page by page, as QEMU's
 * TCG does: the first page is translated (its flags set), then the second.
 * A write stores its bytes only once both translations have succeeded, so a
 * faulting access stores no byte. A read takes the first page's bytes before
 * it translates the second page, as QEMU 7.2 does (this matters only when the
 * second walk sets a flag inside the bytes being read).
 *
 * The canonical check is made per page too, as in QEMU 7.2 (whose check sits
 * in the per-page translation): a canonical first page is translated, setting
 * its flags, before a non-canonical second page raises #GP. The conformance
 * corpus has no access whose first page is canonical and second page is not,
 * so it neither confirms nor contradicts this; a real processor may check the
 * whole access before any walk.
 */
import { PAGE_SHIFT, PAGE_SIZE } from "../arch/index.js";
import { X86MmuError } from "../base/index.js";
import type {
  Access,
  AccessResult,
  CpuState,
  MemoryChange,
  Scenario,
  ScenarioEngine,
  ScenarioResult,
  WalkStep,
} from "../scenario/types.js";
import { PhysicalMemory } from "./memory.js";
import { isCanonical, walk } from "./walker.js";
import { legacyMode } from "./legacy-walker.js";
import { performLegacyAccess } from "./legacy-engine.js";
import { walkNested } from "./nested-walker.js";
import type { NestedWalk } from "../scenario/types.js";

const U64_MASK = (1n << 64n) - 1n;
const PAGE_MASK = BigInt(PAGE_SIZE - 1);

/** Loads a scenario's memory regions into a fresh physical memory. */
export function loadMemory(scenario: Scenario): PhysicalMemory {
  const mem = new PhysicalMemory();
  for (const r of scenario.memory) {
    if ("qwords" in r) r.qwords.forEach((w, i) => mem.write64(r.paddr + 8n * BigInt(i), w));
    else for (let i = 0; i < r.count; i++) mem.write64(r.paddr + 8n * BigInt(i), r.fill);
  }
  return mem;
}

/** Every 8-byte aligned word whose value differs between `before` and `after`, ascending. */
export function memoryChanges(before: PhysicalMemory, after: PhysicalMemory): MemoryChange[] {
  const frames = new Set([...before.frames(), ...after.frames()]);
  const sorted = [...frames].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: MemoryChange[] = [];
  for (const frame of sorted) {
    const base = frame << BigInt(PAGE_SHIFT);
    for (let off = 0n; off < BigInt(PAGE_SIZE); off += 8n) {
      const v = after.read64(base + off);
      if (v !== before.read64(base + off)) out.push({ paddr: base + off, value: v });
    }
  }
  return out;
}

/** Performs one access on `mem`, returning its result. */
export function performAccess(cpu: CpuState, mem: PhysicalMemory, a: Access, trace: boolean): AccessResult {
  const first = a.va;
  const last = (a.va + BigInt(a.size) - 1n) & U64_MASK;
  const crosses = first >> BigInt(PAGE_SHIFT) !== last >> BigInt(PAGE_SHIFT);
  const walkLog: WalkStep[] = [];
  const withWalk = <T extends AccessResult>(r: T): T => (trace ? { ...r, walk: walkLog } : r);

  // Pieces: [linear address, byte count] on each page.
  const pieces: Array<{ va: bigint; len: number }> = [];
  if (crosses) {
    const len1 = Number(BigInt(PAGE_SIZE) - (first & PAGE_MASK));
    pieces.push({ va: first, len: len1 }, { va: (first + BigInt(len1)) & U64_MASK, len: a.size - len1 });
  } else {
    pieces.push({ va: first, len: a.size });
  }

  // Translate page by page. A read takes each page's bytes right after that
  // page's translation (QEMU 7.2 loads the first page's part before it
  // translates the second); a write stores nothing until both are translated.
  const pas: bigint[] = [];
  let value = 0n;
  let shift = 0n;
  for (const piece of pieces) {
    if (!isCanonical(cpu, piece.va)) return withWalk({ ok: false, fault: "GP", errorCode: 0n });
    const t = walk(cpu, mem, { va: piece.va, op: a.op, cpl: a.cpl, ac: a.ac });
    walkLog.push(...t.steps);
    if (!t.ok) return withWalk({ ok: false, fault: "PF", errorCode: t.errorCode, cr2: piece.va });
    pas.push(t.pa);
    if (a.op === "read") value |= mem.read(t.pa, piece.len) << shift;
    shift += BigInt(8 * piece.len);
  }

  if (a.op === "write") {
    shift = 0n;
    pieces.forEach((piece, i) => {
      mem.write(pas[i]!, piece.len, a.value >> shift);
      shift += BigInt(8 * piece.len);
    });
  }
  if (a.op === "read") return withWalk({ ok: true, pa: pas[0]!, value });
  return withWalk({ ok: true, pa: pas[0]! });
}

export class ReferenceEngine implements ScenarioEngine {
  run(scenario: Scenario, options?: { trace?: boolean }): ScenarioResult {
    const trace = options?.trace === true;
    if (scenario.cpus !== undefined) throw new X86MmuError("UNSUPPORTED", "cpus: several CPUs need the core engine (the reference engine models no TLB)");
    if (scenario.sequence) {
      // This walker has no TLB to keep: the TLB extension's stale translations are the core's to show.
      const at = scenario.sequence.findIndex((item) => "step" in item);
      throw new X86MmuError("UNSUPPORTED", `accesses[${at}]: TLB steps need the core engine (the reference engine models no TLB)`);
    }
    const mem = loadMemory(scenario);
    const before = mem.clone();
    // Nested paging (cpu.npt): the 2-D walk, performNestedAccess below.
    if (scenario.cpu.npt !== undefined) {
      const results = scenario.accesses.map((a) => performNestedAccess(scenario.cpu, mem, a, trace));
      return { name: scenario.name, results, memory: memoryChanges(before, mem) };
    }
    // Version 2: outside long mode the legacy walks (legacy-engine.ts) apply.
    const legacy = legacyMode(scenario.cpu);
    const results = scenario.accesses.map((a) =>
      legacy !== undefined ? performLegacyAccess(scenario.cpu, mem, a, legacy, trace) : performAccess(scenario.cpu, mem, a, trace),
    );
    return { name: scenario.name, results, memory: memoryChanges(before, mem) };
  }
}

// ---- Nested paging (AMD SVM NPT, docs/nested-paging.md) ----

/**
 * Performs one access of a scenario with `cpu.npt` on host-physical `mem`:
 * the 2-D walk of nested-walker.ts for each page the access touches. As
 * {@link performAccess} does for version 1: the canonical check is made per
 * page (a non-canonical `va` is #GP(0) with nothing walked); page 1 is
 * translated completely (guest walk, guest A/D, final gPA) before page 2; a
 * read takes each page's bytes right after that page's translation; a write
 * stores no byte unless both pages translated. `pa` is host-physical; a
 * nested fault on page 2 reports that page's first gPA in EXITINFO2.
 */
export function performNestedAccess(cpu: CpuState, mem: PhysicalMemory, a: Access, trace: boolean): AccessResult {
  const first = a.va;
  const len1 = Math.min(a.size, Number(BigInt(PAGE_SIZE) - (first & PAGE_MASK)));
  const pieces = [{ va: first, len: len1 }];
  if (len1 < a.size) pieces.push({ va: (first + BigInt(len1)) & U64_MASK, len: a.size - len1 });

  const walkLog: WalkStep[] = [];
  const nestedLog: NestedWalk[] = [];
  const withWalk = <T extends AccessResult>(r: T): T => (trace ? { ...r, walk: walkLog, nestedWalk: nestedLog } : r);

  const pas: bigint[] = [];
  let value = 0n;
  let shift = 0n;
  for (const piece of pieces) {
    if (!isCanonical(cpu, piece.va)) return withWalk({ ok: false, fault: "GP", errorCode: 0n });
    const t = walkNested(cpu, mem, { va: piece.va, op: a.op, cpl: a.cpl, ac: a.ac });
    walkLog.push(...t.steps);
    nestedLog.push(t.nested);
    if (!t.ok && t.fault === "PF") return withWalk({ ok: false, fault: "PF", errorCode: t.errorCode, cr2: piece.va });
    if (!t.ok) return withWalk({ ok: false, fault: "NPF", exitinfo1: t.exitinfo1, exitinfo2: t.exitinfo2 });
    pas.push(t.pa);
    if (a.op === "read") value |= mem.read(t.pa, piece.len) << shift;
    shift += BigInt(8 * piece.len);
  }
  if (a.op === "write") {
    shift = 0n;
    pieces.forEach((piece, i) => {
      mem.write(pas[i]!, piece.len, a.value >> shift);
      shift += BigInt(8 * piece.len);
    });
  }
  return withWalk(a.op === "read" ? { ok: true, pa: pas[0]!, value } : { ok: true, pa: pas[0]! });
}
