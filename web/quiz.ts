/**
 * Quiz mode: an exercise from the same generator as `x86mmu exercise` (same
 * seed, same tables and accesses), loaded into the page's registers and
 * memory with the walk hidden. The student answers each access with a
 * physical address or the fault (#PF with its error code, or #GP); the
 * answer is checked against the core's result, and then the walk is shown.
 *
 * It knows nothing of the page's internals: main.ts gives it `load` (put a
 * scenario in the editors) and `reveal` (run one access and draw its walk).
 */

import { CoreEngine, generateExercises, exerciseAccessWords, topicsOf, type Exercise, type ExerciseMode, type ExerciseTopic } from "../src/scenario/index.js";
import type { AccessResult } from "../src/scenario/types.js";
import type { AccessJson, ScenarioJson } from "./examples.js";

export interface QuizHooks {
  /** Puts a scenario into the registers and memory editors (as choosing an example does). */
  load(json: ScenarioJson): void;
  /** Runs access `a` on the editors' state and draws its walk. */
  reveal(a: AccessJson): void;
  /** Hides or shows the walk and the TLB panel (hidden while a question is open). */
  hideAnswer(hidden: boolean): void;
}

const hex = (v: bigint): string => "0x" + v.toString(16);

/** The answer a result asks for, in the words the quiz uses. */
export function answerWords(r: AccessResult): string {
  if (r.ok) return `physical address ${hex(r.pa)}`;
  if (r.fault === "PF") return `#PF, error code ${hex(r.errorCode)}`;
  if (r.fault === "GP") return "#GP(0)";
  return `#VMEXIT(NPF)`;
}

/** Whether the student's answer (`kind` pa | pf | gp, `text` the address or error code) is the result's. */
export function isRight(r: AccessResult, kind: string, text: string): { right: boolean; problem?: string } {
  let n: bigint | undefined;
  if (kind !== "gp") {
    const t = text.trim();
    if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(t)) return { right: false, problem: `"${t}" is not a number (0x-hex or decimal)` };
    n = BigInt(t);
  }
  if (r.ok) return { right: kind === "pa" && n === r.pa };
  if (r.fault === "PF") return { right: kind === "pf" && n === r.errorCode };
  if (r.fault === "GP") return { right: kind === "gp" };
  return { right: false };
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...kids);
  return e;
}

/** Builds the quiz card into `root` and wires it to the page. */
export function initQuiz(root: HTMLElement, hooks: QuizHooks): void {
  const seed = el("input", { id: "quiz-seed", value: "1", size: "8", spellcheck: "false" });
  const mode = el("select", { id: "quiz-mode" }, ...(["4-level", "5-level", "pae", "32-bit"] as const).map((m) => el("option", { value: m }, m)));
  const topic = el("select", { id: "quiz-topic" });
  const fillTopics = (): void => {
    topic.replaceChildren(el("option", { value: "" }, "any topic"), ...topicsOf(mode.value as ExerciseMode).map((t) => el("option", { value: t }, t)));
  };
  fillTopics();
  mode.addEventListener("change", fillTopics);
  const start = el("button", { id: "quiz-new", type: "button", class: "small primary" }, "New exercise");
  const body = el("div", { id: "quiz-body" });
  root.append(
    el("h2", {}, "Quiz ", el("span", { class: "note" }, "(the exercises of x86mmu exercise: find the physical address or the fault, then see the walk)")),
    el("div", { class: "row quiz-row" }, el("label", {}, "seed ", seed), el("label", {}, "mode ", mode), el("label", {}, "topic ", topic), start),
    body,
  );

  let ex: Exercise | undefined;
  let results: AccessResult[] = [];
  let k = 0;

  const ask = (): void => {
    if (!ex) return;
    const a = ex.scenario.accesses[k]!;
    hooks.hideAnswer(true);
    const kind = el("select", { id: "quiz-kind" }, el("option", { value: "pa" }, "physical address"), el("option", { value: "pf" }, "#PF, error code"), el("option", { value: "gp" }, "#GP(0)"));
    const value = el("input", { id: "quiz-answer", spellcheck: "false", placeholder: "0x…", size: "18" });
    kind.addEventListener("change", () => (value.disabled = kind.value === "gp"));
    const check = el("button", { id: "quiz-check", type: "button", class: "small primary" }, "Check");
    const verdict = el("div", { id: "quiz-verdict", class: "quiz-verdict" });
    const next = el("button", { id: "quiz-next", type: "button", class: "small" }, k + 1 < results.length ? "Next access" : "Next exercise");
    next.hidden = true;
    check.addEventListener("click", () => {
      const r = results[k]!;
      const { right, problem } = isRight(r, kind.value, value.value);
      if (problem) {
        verdict.className = "quiz-verdict wrong";
        verdict.textContent = problem;
        return;
      }
      verdict.className = `quiz-verdict ${right ? "right" : "wrong"}`;
      verdict.textContent = right ? `Right: ${answerWords(r)}.` : `Not this time: the answer is ${answerWords(r)}. The walk below shows why.`;
      hooks.hideAnswer(false);
      hooks.reveal(ex!.json.accesses[k] as unknown as AccessJson);
      check.disabled = true;
      next.hidden = false;
    });
    next.addEventListener("click", () => {
      if (k + 1 < results.length) {
        k++;
        ask();
      } else {
        seed.value = String((Number(seed.value) >>> 0) + 1);
        start.click();
      }
    });
    value.addEventListener("keydown", (e) => {
      if ((e as KeyboardEvent).key === "Enter") check.click();
    });
    body.replaceChildren(
      el("p", { class: "quiz-question" }, `Exercise ${ex.seed}#${ex.number} (${ex.mode}${ex.topics.length ? `: ${ex.topics.join(", ")}` : ""}), access ${k + 1} of ${results.length}:`),
      el("p", {}, el("code", { id: "quiz-access" }, exerciseAccessWords(a, ex.mode))),
      el("p", { class: "note" }, "The registers and the page-table words are loaded in the editors on the left; each access starts with the TLB flushed, as the scenario format says."),
      el("div", { class: "row quiz-row" }, kind, value, check, next),
      verdict,
    );
  };

  start.addEventListener("click", () => {
    const s = Number(seed.value.trim());
    if (!Number.isInteger(s) || s < 0 || s > 0xffffffff) {
      body.replaceChildren(el("div", { class: "quiz-verdict wrong" }, `The seed is a whole number in 0..4294967295, not "${seed.value}".`));
      return;
    }
    const topics = topic.value ? [topic.value as ExerciseTopic] : undefined;
    ex = generateExercises({ seed: s, count: 1, mode: mode.value as ExerciseMode, topics })[0]!;
    results = new CoreEngine().run(ex.scenario).results as AccessResult[];
    k = 0;
    hooks.load(ex.json as unknown as ScenarioJson);
    ask();
  });
}
