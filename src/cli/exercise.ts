/**
 * `x86mmu exercise`: page-table exercises with answers, as OSTEP's
 * paging-multilevel-translate.py gives them (a seed, `-c` for the answers).
 * The generator is src/scenario/exercise.ts; this file checks the options,
 * prints each exercise (registers, the table pages' non-zero entries, the
 * accesses to work out) and, with --answers, each access explained as
 * `x86mmu explain` explains it, from the result CoreEngine gives (what
 * `x86mmu run` prints). --json prints one line per exercise:
 * `{"scenario": <scenario-format object>, "answers": <run's result object>}`.
 */

import { CoreEngine, EXERCISE_MODES, EXERCISE_TOPICS, exerciseAccessWords, formatResult, generateExercises, topicUnavailable } from "../scenario/index.js";
import type { AccessResult, Exercise, ExerciseMode, ExerciseTopic, ScenarioResult } from "../scenario/index.js";
import { hex } from "../base/index.js";
import { explainAccess, style } from "./explain.js";

/** The options `exercise` reads (main.ts refuses the others). */
export const EXERCISE_OPTIONS = ["seed", "count", "mode", "topics", "answers", "json"];

/** The most exercises one run prints. */
export const MAX_EXERCISES = 1000;

export interface ExerciseValues {
  seed?: string;
  count?: string;
  mode?: string;
  topics?: string;
  answers?: boolean;
  json?: boolean;
}

class UsageError extends Error {}

function integer(text: string | undefined, option: string, lo: number, hi: number, dflt?: number): number {
  if (text === undefined) {
    if (dflt === undefined) throw new UsageError(`give ${option} N (an integer ${lo} to ${hi})`);
    return dflt;
  }
  const ok = /^(0x[0-9a-f]+|[0-9]+)$/i.test(text.trim());
  const n = ok ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < lo || n > hi) throw new UsageError(`${option} must be an integer from ${lo} to ${hi}, not "${text}"`);
  return n;
}

/** Runs `x86mmu exercise`; returns the exit status (2: a usage error, naming the option). */
export function exerciseCommand(rest: string[], values: ExerciseValues, out: (s: string) => void, err: (s: string) => void): number {
  let exercises: Exercise[];
  try {
    if (rest.length > 0) throw new UsageError(`takes no FILE ("${rest[0]}"); give --seed N`);
    const seed = integer(values.seed, "--seed", 0, 0xffffffff);
    const count = integer(values.count, "--count", 1, MAX_EXERCISES, 1);
    const mode = (values.mode ?? "4-level") as ExerciseMode;
    if (!EXERCISE_MODES.includes(mode)) throw new UsageError(`--mode must be ${EXERCISE_MODES.join(", ")}, not "${values.mode}"`);
    let topics: ExerciseTopic[] | undefined;
    if (values.topics !== undefined) {
      const names = values.topics.split(",").map((t) => t.trim().toLowerCase()).filter(Boolean);
      if (names.length === 0) throw new UsageError(`--topics needs at least one of ${EXERCISE_TOPICS.join(", ")}`);
      for (const t of names) {
        if (!EXERCISE_TOPICS.includes(t as ExerciseTopic)) throw new UsageError(`--topics: unknown topic "${t}" (${EXERCISE_TOPICS.join(", ")})`);
        const why = topicUnavailable(t as ExerciseTopic, mode);
        if (why) throw new UsageError(`--topics ${t} does not apply to --mode ${mode}: ${why}`);
      }
      topics = [...new Set(names)] as ExerciseTopic[];
    }
    exercises = generateExercises({ seed, count, mode, topics });
  } catch (e) {
    if (e instanceof UsageError) {
      err(`x86mmu exercise: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const engine = new CoreEngine();
  for (const x of exercises) {
    const r = engine.run(x.scenario, { trace: values.answers === true && values.json !== true });
    if (values.json) out(JSON.stringify({ scenario: x.json, answers: formatResult(r) }) + "\n");
    else out(exerciseText(x, values.answers === true ? r : undefined) + "\n");
  }
  return 0;
}

const MODE_WORDS: Record<ExerciseMode, string> = { "32-bit": "32-bit paging", pae: "PAE paging", "4-level": "4-level paging", "5-level": "5-level paging" };

/** The set bits of a register that matter here, by name. */
function named(v: bigint, bits: [number, string][]): string {
  const set = bits.filter(([b]) => ((v >> BigInt(b)) & 1n) !== 0n).map(([, n]) => n);
  return set.length ? ` (${set.join(" ")})` : "";
}

/** One exercise as text: the registers, the tables, the accesses; with a result, the answers explained. */
export function exerciseText(x: Exercise, r?: ScenarioResult): string {
  const cpu = x.scenario.cpu;
  const lines: string[] = [];
  lines.push(`Exercise ${x.number} (seed ${x.seed}): ${MODE_WORDS[x.mode]}; topics: ${x.topics.join(", ")}`);
  lines.push(`  CR0  ${hex(cpu.cr0)}${named(cpu.cr0, [[31, "PG"], [16, "WP"], [0, "PE"]])}`);
  lines.push(`  CR3  ${hex(cpu.cr3)}`);
  lines.push(`  CR4  ${hex(cpu.cr4)}${named(cpu.cr4, [[4, "PSE"], [5, "PAE"], [7, "PGE"], [12, "LA57"], [20, "SMEP"], [21, "SMAP"], [22, "PKE"]])}`);
  lines.push(`  EFER ${hex(cpu.efer)}${named(cpu.efer, [[8, "LME"], [10, "LMA"], [11, "NXE"]])}`);
  if (x.json.cpu.pkru !== undefined) lines.push(`  PKRU ${"0x" + cpu.pkru.toString(16).padStart(8, "0")}${pkruWords(cpu.pkru)}`);
  lines.push(`  MAXPHYADDR ${cpu.maxphyaddr}`);
  const digits = x.tables[0]?.entryBytes === 4 ? 8 : 16;
  lines.push(`  Page tables (${x.tables[0]?.entryBytes ?? 8}-byte entries, [index] value; entries not shown are 0):`);
  const width = Math.max(...x.tables.map((t) => t.level.length));
  for (const t of x.tables) {
    const head = `    ${t.level.padEnd(width)} @${hex(t.paddr)}:`;
    const cells = t.entries.map((e) => `[${hex(e.index)}] 0x${e.value.toString(16).padStart(digits, "0")}`);
    // Three entries a line.
    for (let i = 0; i < cells.length; i += 3) lines.push(`${i === 0 ? head : " ".repeat(head.length)} ${cells.slice(i, i + 3).join("  ")}`);
  }
  lines.push("  Accesses (each after the one before; the TLB is empty before each): give the physical address,");
  lines.push("  or the fault: #PF with its error code, or #GP.");
  x.scenario.accesses.forEach((a, i) => lines.push(`    ${String(i + 1).padStart(2)}. ${exerciseAccessWords(a, x.mode)}`));
  if (r) {
    lines.push("", `  Answers to exercise ${x.number}:`);
    r.results.forEach((res, i) => {
      const a = x.scenario.accesses[i]!;
      const ar = res as AccessResult;
      lines.push(`    ${String(i + 1).padStart(2)}. ${shortAnswer(ar)}`);
      lines.push(...explainAccess(a, ar, cpu, style(false)).split("\n").map((l) => "        " + l));
    });
    if (r.memory.length) {
      lines.push("      Memory words changed (accessed and dirty flags, bytes written):");
      for (const m of r.memory) lines.push(`        ${hex(m.paddr)} = ${hex(m.value)}`);
    } else lines.push("      No memory word changed.");
  }
  return lines.join("\n") + "\n";
}

/** The answer in one line: the physical address, or the fault. */
export function shortAnswer(r: AccessResult): string {
  if (r.ok) return `physical address ${hex(r.pa)}`;
  if (r.fault === "PF") return `#PF, error code ${hex(r.errorCode)}`;
  if (r.fault === "GP") return "#GP(0)";
  return `#VMEXIT(NPF) ${hex(r.exitinfo1)}`;
}

/** The keys PKRU restricts: "key 3: AD, key 7: WD". */
function pkruWords(pkru: bigint): string {
  const keys: string[] = [];
  for (let k = 0; k < 16; k++) {
    const ad = (pkru >> BigInt(2 * k)) & 1n, wd = (pkru >> BigInt(2 * k + 1)) & 1n;
    if (ad || wd) keys.push(`key ${k}: ${[ad ? "AD" : "", wd ? "WD" : ""].filter(Boolean).join(" ")}`);
  }
  return keys.length ? ` (${keys.join(", ")})` : "";
}
