/**
 * The page-walk explorer: edit registers and physical memory (or load one of
 * examples/), pick an access, and see the walk the WebAssembly core made,
 * drawn level by level: the address bits coloured by index, each table with
 * the selected entry highlighted, the permission checks, and the physical
 * address or the page fault with its error code bit by bit. In sequence mode
 * the items of a scenario (accesses, and the TLB steps between them) run one
 * after another on the same state, and a TLB panel shows what each access hit,
 * filled or evicted. A small builder makes page tables through the library's
 * PageTable API, as the CLI's `--map` does.
 *
 * Plain TypeScript and DOM. It imports only the browser entry of x86mmu
 * (src/browser.ts) and the words of the trace, never src/node.ts.
 */

import wasmUrl from "../build/core.wasm?url";
import { loadCore, CoreEngine, Mmu, LegacyPageTable, parseScenario, ScenarioError, X86MmuError, type TlbEntry, type PteFlags } from "../src/browser.js";
import type { AccessResult, NestedWalk, Scenario, WalkStep } from "../src/scenario/types.js";
import { addressFields, allowsWords, checksOf, splitWalks } from "../src/cli/explain.js";
import { flagNames, targetOf, errorCodeFields, shapeOf, SIZE_WORDS, type Shape } from "../src/arch/rules.js";
import { describeExitInfo1 } from "../src/base/errors.js";
import { examples, isStep, type AccessJson, type ScenarioJson, type StepJson } from "./examples.js";
import { initQuiz } from "./quiz.js";
import { initExplorer } from "./explorer.js";
import { initCpus } from "./cpus.js";

// ---- Small DOM helpers ----

type Child = Node | string | null | undefined | false;

function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

function $<T extends HTMLElement>(id: string): T {
  const e = document.getElementById(id);
  if (!e) throw new Error(`#${id} missing`);
  return e as T;
}

const hex = (v: bigint): string => "0x" + v.toString(16);
const bit = (v: bigint, n: number): boolean => ((v >> BigInt(n)) & 1n) !== 0n;

function parseNum(text: string, what: string): bigint {
  const t = text.trim();
  if (!/^(0x[0-9a-f]+|[0-9]+)$/i.test(t)) throw new Error(`${what}: "${text}" is not a number (0x-hex or decimal)`);
  return BigInt(t);
}

// ---- The machine being edited ----

const REGISTERS: { key: string; label: string; bits: [string, number, string][]; note?: string }[] = [
  { key: "cr0", label: "CR0", bits: [["PE", 0, "protection enable"], ["WP", 16, "write protect: supervisor writes honour R/W"], ["PG", 31, "paging"]] },
  { key: "cr3", label: "CR3", bits: [] },
  {
    key: "cr4",
    label: "CR4",
    bits: [
      ["PSE", 4, "4 MiB pages in 32-bit paging"], ["PAE", 5, "physical address extension"], ["PGE", 7, "global pages"], ["LA57", 12, "5-level paging"], ["PCIDE", 17, "process-context IDs"],
      ["SMEP", 20, "supervisor-mode execution prevention"], ["SMAP", 21, "supervisor-mode access prevention"], ["PKE", 22, "protection keys (user pages)"], ["PKS", 24, "protection keys (supervisor pages)"],
    ],
  },
  { key: "efer", label: "EFER", bits: [["LME", 8, "long mode enable"], ["LMA", 10, "long mode active"], ["NXE", 11, "execute-disable bit enabled"]] },
  { key: "pkru", label: "PKRU", bits: [], note: "AD/WD bit pairs for user-page keys" },
  { key: "pkrs", label: "IA32_PKRS", bits: [], note: "AD/WD bit pairs for supervisor-page keys" },
  { key: "maxphyaddr", label: "MAXPHYADDR", bits: [], note: "physical-address width, 36..52" },
  { key: "ncr3", label: "nCR3", bits: [], note: "nested paging (AMD NPT): host-physical root of the nested tables; empty = off" },
];

interface Word {
  paddr: string;
  value: string;
  count: number;
}

const state = {
  name: "",
  regs: {} as Record<string, string>,
  words: [] as Word[],
  accesses: [] as ScenarioJson["accesses"],
  /** Sequence mode: the items run in order on one state (the TLB kept); `pos` of them have run. */
  seq: { on: false, items: [] as ScenarioJson["accesses"], pos: 0 },
  /** The TLB entry picked in the panel (its linear page and PCID), for "write PTE without invalidation". */
  tlbPick: undefined as string | undefined,
  /** The host's EFER.NXE for the nested walk (`cpu.npt.nxe`), kept from the example. */
  nptNxe: true,
};

const engine = { current: undefined as CoreEngine | undefined, probe: undefined as CoreEngine | undefined };

// ---- Loading an example into the editors ----

function loadExample(i: number): void {
  for (const id of ["result", "tlb-card", "presets"]) $(id).hidden = false; // a quiz question may have hidden them
  loadScenario(examples[i]!.json);
}

/** Puts a scenario into the editors: registers, memory, accesses (an example, or the quiz's exercise). */
function loadScenario(json: ScenarioJson): void {
  state.name = json.name;
  const cpu = json.cpu;
  const str = (v: string | number | undefined, d: string) => (v === undefined ? d : String(v));
  state.regs = {
    cr0: str(cpu.cr0, "0x80010033"), cr3: str(cpu.cr3, "0x1000"), cr4: str(cpu.cr4, "0x20"), efer: str(cpu.efer, "0xd00"),
    pkru: str(cpu.pkru, "0x0"), pkrs: str(cpu.pkrs, "0x0"), maxphyaddr: str(cpu.maxphyaddr, "52"), ncr3: cpu.npt?.ncr3 ?? "",
  };
  state.nptNxe = cpu.npt?.nxe ?? true;
  nestedPick.key = nestedPick.entry = undefined;
  state.words = [];
  for (const r of json.memory) {
    if (r.qwords) {
      r.qwords.forEach((q, k) => {
        if (BigInt(q) !== 0n) state.words.push({ paddr: hex(BigInt(r.paddr) + 8n * BigInt(k)), value: q, count: 1 });
      });
    } else state.words.push({ paddr: r.paddr, value: r.fill ?? "0x0", count: r.count ?? 1 });
  }
  state.accesses = json.accesses;
  // A scenario with TLB steps opens in sequence mode, its first item run.
  const steps = json.accesses.some(isStep);
  state.seq = { on: steps, items: [...json.accesses], pos: steps ? 1 : 0 };
  state.tlbPick = undefined;
  $<HTMLInputElement>("seq-on").checked = steps;
  $("scenario-name").textContent = json.name;
  renderRegisters();
  renderMemory();
  renderPresets();
  if (document.getElementById("builder")) renderBuilder();
  const plain = json.accesses.filter((x): x is AccessJson => !isStep(x));
  const a = steps ? plain[0] : (plain.find((x) => x.op === "write") ?? plain[0]);
  if (a) setAccess(a);
}

function setAccess(a: AccessJson): void {
  $<HTMLSelectElement>("op").value = a.op;
  $<HTMLInputElement>("va").value = a.va;
  $<HTMLSelectElement>("size").value = String(a.op === "fetch" ? 1 : a.size ?? 1);
  $<HTMLSelectElement>("cpl").value = String(a.cpl ?? 0);
  $<HTMLInputElement>("ac").checked = a.ac === true;
  $<HTMLInputElement>("value").value = a.value ?? "0x0";
  syncAccessFields();
}

function syncAccessFields(): void {
  const op = $<HTMLSelectElement>("op").value;
  $("value-label").hidden = op !== "write";
  $<HTMLSelectElement>("size").disabled = op === "fetch";
  $<HTMLInputElement>("ac").disabled = $<HTMLSelectElement>("cpl").value === "3";
}

// ---- Editors ----

function renderRegisters(): void {
  const box = $("registers");
  box.replaceChildren();
  for (const r of REGISTERS) {
    const input = h("input", { id: `reg-${r.key}`, spellcheck: "false", value: state.regs[r.key] ?? "" });
    const chips = h("div", { class: "chips" });
    const drawChips = () => {
      chips.replaceChildren();
      let v: bigint | undefined;
      try {
        v = parseNum(state.regs[r.key] ?? "", r.label);
      } catch {
        v = undefined;
      }
      for (const [name, n, title] of r.bits) {
        const on = v !== undefined && bit(v, n);
        const chip = h("button", { type: "button", class: `chip${on ? " on" : ""}`, title: `${r.label}.${name} (bit ${n}): ${title}` }, name);
        chip.addEventListener("click", () => {
          const cur = parseNum(state.regs[r.key] ?? "0", r.label);
          state.regs[r.key] = hex(cur ^ (1n << BigInt(n)));
          input.value = state.regs[r.key]!;
          drawChips();
          drawCr3Bits();
          translate();
        });
        chips.append(chip);
      }
      if (r.note) chips.append(h("span", { class: "note" }, r.note));
      if (r.key === "cr3") chips.append(h("div", { class: "cr3-bits", id: "cr3-bits" }));
    };
    input.addEventListener("change", () => {
      state.regs[r.key] = input.value.trim();
      drawChips();
      drawCr3Bits();
      translate();
    });
    drawChips();
    box.append(h("div", { class: "reg", "data-reg": r.key }, h("label", { for: `reg-${r.key}` }, r.label), input, chips));
  }
  drawCr3Bits();
}

/**
 * CR3 in parts (SDM 4.5, table 4-12 etc.): the table address, and what the low bits are in this mode: PWT and PCD
 * (flags), the PCID with CR4.PCIDE=1, or ignored; bits at or above MAXPHYADDR are reserved (the MOV would #GP).
 */
function drawCr3Bits(): void {
  const box = document.getElementById("cr3-bits");
  if (!box) return;
  const num = (k: string) => {
    try {
      return parseNum(state.regs[k] ?? "", k);
    } catch {
      return undefined;
    }
  };
  const cr3 = num("cr3");
  const cr4 = num("cr4") ?? 0n;
  const efer = num("efer") ?? 0n;
  const m = Number(num("maxphyaddr") ?? 52n);
  if (cr3 === undefined) return void box.replaceChildren(h("span", { class: "note" }, "physical address of the top table"));
  const long = bit(efer, 8);
  const format = !bit(cr4, 5) ? "32-bit" : long ? (bit(cr4, 12) ? "5-level" : "4-level") : "PAE";
  const parts: HTMLElement[] = [];
  const part = (cls: string, text: string, title: string) => parts.push(h("span", { class: `cr3-part ${cls}`, title }, text));
  const ignored = (mask: bigint, what: string) => {
    const set = cr3 & mask;
    part(set ? "ignored set" : "ignored", `${what} ignored${set ? ` (set: ${hex(set)})` : ""}`, `bits ${what} are ignored in ${format} paging: the processor does not look at them`);
  };
  if (format === "PAE") {
    part("addr", `PDPT at ${hex(cr3 & 0xffffffe0n)}`, "bits 31:5: the 32-byte aligned address of the four PDPTEs");
    ignored(0x1fn, "4:0");
  } else {
    const top = format === "32-bit" ? 0xfffff000n : ((1n << BigInt(m)) - 1n) & ~0xfffn;
    part("addr", `${format === "32-bit" ? "page directory" : format === "5-level" ? "PML5 table" : "PML4 table"} at ${hex(cr3 & top)}`, `bits ${format === "32-bit" ? "31" : m - 1}:12: the physical address of the top table`);
    if (long && bit(cr4, 17)) {
      part("flag", `PCID ${cr3 & 0xfffn}`, "bits 11:0 with CR4.PCIDE=1: the process-context ID that tags the TLB entries this address space fills");
    } else {
      part(bit(cr3, 3) ? "flag on" : "flag", `PWT=${bit(cr3, 3) ? 1 : 0}`, "bit 3: page-level write-through for the top table (a cache attribute; the walk is the same)");
      part(bit(cr3, 4) ? "flag on" : "flag", `PCD=${bit(cr3, 4) ? 1 : 0}`, "bit 4: page-level cache disable for the top table (a cache attribute; the walk is the same)");
      ignored(0xfe7n, "2:0, 11:5");
    }
    const rsvd = format === "32-bit" ? cr3 >> 32n : cr3 & ~((1n << BigInt(m)) - 1n) & ((1n << 63n) - 1n);
    if (long && bit(cr3, 63)) part("flag on", "bit 63", "bit 63 on a MOV to CR3 with CR4.PCIDE=1: keep the new PCID's TLB entries (not stored in CR3)");
    if (rsvd) part("bad", `reserved bits set: ${hex(rsvd)}`, `bits 63:${m} are reserved: the MOV to CR3 would #GP`);
  }
  box.replaceChildren(...parts);
}

function renderMemory(): void {
  const body = $("memory").querySelector("tbody")!;
  body.replaceChildren();
  state.words.forEach((w, i) => {
    const pa = h("input", { spellcheck: "false", value: w.paddr, "aria-label": "physical address" });
    const val = h("input", { spellcheck: "false", value: w.value, class: "wide", "aria-label": "64-bit word" });
    const count = h("input", { type: "number", min: "1", max: "512", value: String(w.count), class: "count", title: "repeat the word this many times" });
    const del = h("button", { type: "button", class: "small ghost", title: "remove" }, "✕");
    pa.addEventListener("change", () => ((w.paddr = pa.value.trim()), translate()));
    val.addEventListener("change", () => ((w.value = val.value.trim()), translate()));
    count.addEventListener("change", () => ((w.count = Math.max(1, Number(count.value) || 1)), translate()));
    del.addEventListener("click", () => {
      state.words.splice(i, 1);
      renderMemory();
      translate();
    });
    body.append(h("tr", { "data-paddr": w.paddr }, h("td", {}, pa), h("td", {}, val), h("td", {}, count), h("td", {}, del)));
  });
}

function renderPresets(): void {
  const box = $("presets");
  box.replaceChildren(h("span", { class: "note" }, "accesses of the example:"));
  state.accesses.forEach((a, i) => {
    if (isStep(a)) return;
    const size = a.op === "fetch" ? "" : ` ·${a.size ?? 1}`;
    const b = h("button", { type: "button", class: "chip preset", "data-preset": String(i) }, `${a.op} ${a.va}${size} · CPL ${a.cpl ?? 0}${a.ac ? " · AC" : ""}`);
    b.addEventListener("click", () => {
      setAccess(a);
      nestedPick.key = nestedPick.entry = undefined;
      translate();
    });
    box.append(b);
  });
}

// ---- Running the access on the core ----

/** A register, address or value as the scenario format wants it: decimal is turned into hex; anything else is passed on for the parser to judge. */
const asHex = (text: string): string => {
  const t = text.trim();
  return /^[0-9]+$/.test(t) ? hex(BigInt(t)) : t;
};

/** The access the form describes, in the scenario's JSON form. */
function accessOfForm(): AccessJson {
  const op = $<HTMLSelectElement>("op").value;
  const a: AccessJson = { va: asHex($<HTMLInputElement>("va").value), op, cpl: Number($<HTMLSelectElement>("cpl").value), ac: $<HTMLInputElement>("ac").checked };
  if (op !== "fetch") a.size = Number($<HTMLSelectElement>("size").value);
  if (op === "write") a.value = asHex($<HTMLInputElement>("value").value);
  return a;
}

/** The machine of the editors with `items` as its accesses, in the scenario's JSON form. */
function scenarioJson(items: ScenarioJson["accesses"], memory?: ScenarioJson["memory"], cr3?: string): ScenarioJson {
  const regs = state.regs;
  const maxphyaddr = regs.maxphyaddr?.trim() ?? "";
  return {
    name: state.name || "edited scenario",
    cpu: {
      cr0: asHex(regs.cr0 ?? ""), cr3: cr3 ?? asHex(regs.cr3 ?? ""), cr4: asHex(regs.cr4 ?? ""), efer: asHex(regs.efer ?? ""), pkru: asHex(regs.pkru ?? ""), pkrs: asHex(regs.pkrs ?? ""),
      maxphyaddr: (/^[0-9]+$/.test(maxphyaddr) ? Number(maxphyaddr) : maxphyaddr) as number,
      ...(regs.ncr3?.trim() ? { npt: { ncr3: asHex(regs.ncr3), nxe: state.nptNxe } } : {}),
    },
    memory: memory ?? state.words.map((w) => (w.count > 1 ? { paddr: asHex(w.paddr), fill: asHex(w.value), count: w.count } : { paddr: asHex(w.paddr), qwords: [asHex(w.value)] })),
    accesses: items,
  };
}

/** Physical memory as the scenario sets it: 8-byte words by address. */
function memoryMap(s: Scenario): Map<bigint, bigint> {
  const m = new Map<bigint, bigint>();
  for (const r of s.memory) {
    if ("qwords" in r) r.qwords.forEach((q, k) => m.set(r.paddr + 8n * BigInt(k), q));
    else for (let k = 0; k < r.count; k++) m.set(r.paddr + 8n * BigInt(k), r.fill);
  }
  return m;
}

// ---- Errors in the page's words, the field marked ----

const FIELD_WORDS: Record<string, string> = {
  va: "linear address", value: "value", size: "size", op: "op", cpl: "CPL", ac: "EFLAGS.AC", paddr: "physical address", type: "INVPCID type", pcid: "PCID", step: "step",
};

/** Where a scenario error's field is on the page: the element to mark and its name in the page's words. */
function fieldOf(field: string): { el?: Element | null; words: string } {
  let m = /^cpu\.npt(?:\.(\w+))?$/.exec(field);
  if (m) return { el: document.getElementById("reg-ncr3"), words: m[1] === "nxe" ? "nested paging (host EFER.NXE)" : "nCR3" };
  m = /^cpu\.(\w+)$/.exec(field);
  if (m) return { el: document.getElementById(`reg-${m[1]}`), words: REGISTERS.find((r) => r.key === m![1])?.label ?? m[1]! };
  if (field === "cpu") return { el: document.getElementById("registers"), words: "registers" };
  m = /^memory\[(\d+)\](?:\.(\w+))?/.exec(field);
  if (m) {
    const row = $("memory").querySelectorAll("tbody tr")[Number(m[1])];
    const col = m[2] === "paddr" ? 1 : m[2] === "count" ? 3 : 2;
    return { el: row?.querySelector(`td:nth-child(${col}) input`) ?? row, words: `physical memory, row ${Number(m[1]) + 1}${m[2] ? `, ${m[2] === "paddr" ? "physical address" : m[2] === "count" ? "repeat count" : "64-bit word"}` : ""}` };
  }
  m = /^accesses\[(\d+)\](?:\.(\w+))?/.exec(field);
  if (m) {
    const key = m[2] ?? "";
    if (!state.seq.on) return { el: document.getElementById({ va: "va", value: "value", size: "size", op: "op", cpl: "cpl", ac: "ac" }[key] ?? "va"), words: `the access's ${FIELD_WORDS[key] ?? "fields"}` };
    const i = Number(m[1]) - 1; // the sequence runs after a leading flush
    return { el: document.querySelector(`#sequence [data-item="${i}"]`), words: `sequence item ${i + 1}${key ? `, ${FIELD_WORDS[key] ?? key}` : ""}` };
  }
  if (field === "accesses") return { el: document.getElementById("seq-on"), words: "sequence mode" };
  return { words: "the scenario" };
}

/** A parser's problem said for a person typing into the page. */
function problemWords(problem: string): string {
  let m = /^must be a 0x-prefixed hex string, got (.*)$/.exec(problem);
  if (m) return m[1] === '""' ? "is empty: give a number, in hex with 0x (e.g. 0x1000) or in decimal" : `${m[1]} is not a number: write it in hex with 0x (e.g. 0x1000) or in decimal`;
  m = /^does not fit in (\d+) bits: (.*)$/.exec(problem);
  if (m) return `${m[2]} is too large: it must fit in ${m[1]} bits`;
  m = /^must be an integer(?: from (\d+) to (\d+))?, got (.*)$/.exec(problem);
  if (m) return m[1] ? `${m[3]} is not a whole number from ${m[1]} to ${m[2]}` : `${m[3]} is not a whole number`;
  return problem;
}

function showError(e: unknown): void {
  const err = $("error");
  err.hidden = false;
  if (e instanceof ScenarioError) {
    const { el, words } = fieldOf(e.field);
    const text = `${words[0]!.toUpperCase()}${words.slice(1)}: ${problemWords(e.problem)}`;
    err.replaceChildren(h("b", {}, "Cannot run this: "), text);
    err.dataset.field = e.field;
    if (el) {
      el.classList.add("invalid");
      el.setAttribute("aria-invalid", "true");
    }
  } else {
    err.replaceChildren(h("b", {}, "Cannot run this: "), e instanceof Error ? e.message : String(e));
    delete err.dataset.field;
  }
  $("result").replaceChildren();
}

function clearError(): void {
  $("error").hidden = true;
  for (const el of document.querySelectorAll(".invalid")) {
    el.classList.remove("invalid");
    el.removeAttribute("aria-invalid");
  }
}

// ---- Running: one access (the TLB flushed first, as the format says), or a sequence on one state ----

function translate(): void {
  clearError();
  try {
    engine.current ??= new CoreEngine();
    if (state.seq.on) runSequence();
    else runSingle();
  } catch (e) {
    showError(e);
    if (state.seq.on) renderSequenceList([]);
  }
  renderTlbControls();
}

function runSingle(): void {
  renderSequenceList([]);
  const scenario = parseScenario(scenarioJson([accessOfForm()]));
  const e = engine.current!;
  const run = e.run(scenario, { trace: true });
  const r = run.results[0] as AccessResult;
  renderResult(scenario, r, run.memory);
  // What the access left in the TLB (the format flushes it before every access; sequence mode keeps it).
  const entries = scenario.cpu.npt ? [] : e.mmu.tlbEntries();
  renderTlb({ entries, filled: entries, evicted: [], hit: [], pcid: pcidOf(scenario.cpu.cr3, scenario.cpu.cr4), memory: run.memory, cr3: scenario.cpu.cr3 });
}

const pcidOf = (cr3: bigint, cr4: bigint): number => (bit(cr4, 17) ? Number(cr3 & 0xfffn) : 0);
const tlbKey = (e: TlbEntry): string => `${hex(e.linear)}/${e.pcid}`;

/** The memory the scenario sets, with `changes` written over it, as regions. */
function memoryWith(s: Scenario, changes: { paddr: bigint; value: bigint }[]): ScenarioJson["memory"] {
  const m = memoryMap(s);
  for (const c of changes) m.set(c.paddr, c.value);
  return [...m].filter(([, v]) => v !== 0n).map(([paddr, v]) => ({ paddr: hex(paddr), qwords: [hex(v)] }));
}

function stepWords(x: StepJson): string {
  switch (x.step) {
    case "mov_cr3":
      return `MOV CR3 ← ${x.value}`;
    case "invlpg":
      return `INVLPG ${x.va}`;
    case "invpcid":
      return `INVPCID type ${x.type ?? 0}${(x.type ?? 0) <= 1 ? ` PCID ${x.pcid ?? 0}` : ""}${(x.type ?? 0) === 0 ? ` ${x.va ?? "0x0"}` : ""}`;
    case "store":
      return `store ${x.paddr} ← ${x.value} (no invalidation)`;
    case "flush":
      return "flush the TLB";
  }
}

const accessWords = (a: AccessJson): string => `${a.op} ${a.va}${a.op === "fetch" ? "" : ` ·${a.size ?? 1}`} · CPL ${a.cpl ?? 0}${a.ac ? " · AC" : ""}`;

function runSequence(): void {
  const { items } = state.seq;
  const pos = (state.seq.pos = Math.max(0, Math.min(state.seq.pos, items.length)));
  const flush: StepJson = { step: "flush" };
  // The whole sequence must parse; the run covers the items up to the current one (a leading flush keeps the TLB: the extension's meaning).
  parseScenario(scenarioJson([flush, ...items]));
  const e = engine.current!;
  const prefix = (n: number) => parseScenario(scenarioJson([flush, ...items.slice(0, n)]));
  const before = pos > 1 ? e.run(prefix(pos - 1)).memory : [];
  const s = prefix(pos);
  const run = e.run(s, { trace: true });
  const entries = e.mmu.tlbEntries();
  renderSequenceList(run.results.slice(1) as (AccessResult | { step: string; ok: boolean })[]);
  // CR3 for the current item: the last MOV to CR3 that ran before it (a refused one changes nothing).
  let cr3 = s.cpu.cr3;
  items.slice(0, Math.max(0, pos - 1)).forEach((x, i) => {
    if (isStep(x) && x.step === "mov_cr3" && run.results[i + 1]?.ok) cr3 = BigInt(x.value!) & ~(1n << 63n);
  });
  const pcid = pcidOf(cr3, s.cpu.cr4);
  const cur = pos > 0 ? items[pos - 1]! : undefined;
  const ev = e.tlbEvents[pos];
  const afterCr3 = cur && isStep(cur) && cur.step === "mov_cr3" && run.results[pos]?.ok ? BigInt(cur.value!) & ~(1n << 63n) : cr3;
  if (!cur) {
    $("result").replaceChildren(h("div", { class: "card note-card", id: "seq-start" }, h("b", {}, "Nothing has run yet: the TLB is empty. "), "Press ▶ step to run the first item, or Run access to add the access above."));
    renderTlb({ entries, filled: [], evicted: [], hit: [], pcid, memory: [], cr3: afterCr3 });
    document.body.dataset.ready = "true";
    return;
  }
  const changed = diffMemory(before, run.memory);
  if (isStep(cur)) {
    const r = run.results[pos]!;
    const evicted = ev?.evicted ?? [];
    $("result").replaceChildren(
      h(
        "div",
        { class: `card outcome ${r.ok ? "ok" : "bad"} step-card`, id: "outcome" },
        h("div", { class: "big" }, r.ok ? "✓ " : "✗ #GP(0): ", stepWords(cur)),
        h("div", {}, r.ok ? stepMeaning(cur, s.cpu.cr4) : "The processor refuses it (a reserved bit, or a PCID without CR4.PCIDE): nothing changes."),
        r.ok && cur.step !== "store" ? h("div", { class: "note" }, evicted.length ? `It invalidated ${evicted.length} TLB entr${evicted.length === 1 ? "y" : "ies"}: ${evicted.map((x) => `page ${hex(x.linear)}${x.pcid ? ` (PCID ${x.pcid})` : ""}`).join(", ")}.` : "No TLB entry was invalidated.") : null,
        changed.length ? h("div", { class: "mono" }, ...changed.map((m) => `${hex(m.paddr)} = ${hex(m.value)}  `)) : null,
      ),
    );
    renderTlb({ entries, filled: [], evicted, hit: [], pcid: pcidOf(afterCr3, s.cpu.cr4), memory: run.memory, cr3: afterCr3 });
    document.body.dataset.ready = "true";
    return;
  }
  const r = run.results[pos] as AccessResult;
  const va = BigInt(cur.va);
  // The view: the registers with the current CR3, and memory as the earlier items left it.
  const view = parseScenario(scenarioJson([cur], memoryWith(s, before), hex(cr3)));
  const hitPages = new Set<bigint>();
  if (r.tlb !== undefined) {
    const last = va + BigInt(cur.op === "fetch" ? 1 : (cur.size ?? 1)) - 1n;
    for (const p of [va & ~0xfffn, last & ~0xfffn]) if (!(ev?.filled ?? []).some((f) => f.linear === p)) hitPages.add(p);
  }
  const hit = entries.filter((x) => hitPages.has(x.linear) && (x.global || x.pcid === pcid));
  let tlbNote: HTMLElement | undefined;
  if (r.tlb === "hit") {
    // What a walk would give now: memory may have changed since the entry was filled (a store without INVLPG).
    engine.probe ??= new CoreEngine();
    const now = engine.probe.run(view).results[0] as AccessResult;
    const stale = now.ok !== r.ok || (r.ok && now.ok && now.pa !== r.pa);
    tlbNote = h(
      "div",
      { class: `card tlb-hit${stale ? " stale" : ""}`, id: "tlb-hit" },
      h("div", { class: "big" }, stale ? "TLB hit: a stale translation" : "TLB hit: no page walk"),
      h("div", {}, `The TLB entry for page ${hex(va & ~0xfffn)}${hit[0] ? ` (${hit[0].global ? "global" : `PCID ${hit[0].pcid}`}) gave frame ${hex(hit[0].frame)}` : ""}, with the rights it cached: no table was read, no A or D flag set.`),
      stale
        ? h("div", { class: "stale-why" }, h("b", {}, "Stale: "), `the page tables in memory now say ${now.ok ? `physical address ${hex(now.pa)}` : now.fault === "PF" ? `#PF (error code ${hex(now.errorCode)})` : `#${now.fault}`}, but the TLB still serves the old translation until an INVLPG of the page (or a MOV to CR3, for a non-global entry).`)
        : null,
    );
  }
  renderResult(view, r, changed, tlbNote);
  renderTlb({ entries, filled: ev?.filled ?? [], evicted: ev?.evicted ?? [], hit, pcid, memory: run.memory, cr3 });
}

function stepMeaning(x: StepJson, cr4: bigint): string {
  const pcide = bit(cr4, 17);
  switch (x.step) {
    case "mov_cr3":
      return pcide
        ? bit(BigInt(x.value!), 63)
          ? "Bit 63 set with CR4.PCIDE=1: CR3 changes and the new PCID's entries are kept."
          : "CR3 changes; the new PCID's non-global entries are invalidated (other PCIDs' stay)."
        : "CR3 changes; every non-global entry is invalidated. Global entries (G=1 with CR4.PGE=1) stay.";
    case "invlpg":
      return "The entries for that page are invalidated, global ones too, with the paging-structure caches.";
    case "invpcid":
      return ["Type 0: one address of one PCID (not its global entries).", "Type 1: every non-global entry of one PCID.", "Type 2: every entry, global ones too.", "Type 3: every entry but the global ones."][x.type ?? 0]!;
    case "store":
      return "Memory changes, and nothing is invalidated: the TLB may still hold what it cached from the old value.";
    case "flush":
      return "Every entry is invalidated, global ones too (a MOV to CR4 toggling PGE does this).";
  }
}

/** Words whose value differs between two memory diffs (the earlier and the later state). */
function diffMemory(before: { paddr: bigint; value: bigint }[], after: { paddr: bigint; value: bigint }[]): { paddr: bigint; value: bigint }[] {
  const b = new Map(before.map((m) => [m.paddr, m.value]));
  return after.filter((m) => b.get(m.paddr) !== m.value);
}

// ---- The TLB panel ----

interface TlbView {
  entries: TlbEntry[];
  filled: TlbEntry[];
  evicted: TlbEntry[];
  hit: TlbEntry[];
  pcid: number;
  /** Memory now, as changes to the scenario's (for the PTE behind a picked entry). */
  memory: { paddr: bigint; value: bigint }[];
  cr3: bigint;
}

const served = (kinds: string[]): string => (kinds.length ? kinds.map((k) => (k === "cpl0" ? "0" : k === "cpl0+ac" ? "0+AC" : "3")).join(" ") : "—");

function renderTlb(t: TlbView): void {
  const box = $("tlb");
  const key = (e: TlbEntry) => tlbKey(e);
  const filled = new Set(t.filled.map(key));
  const hit = new Set(t.hit.map(key));
  if (state.tlbPick !== undefined && !t.entries.some((e) => key(e) === state.tlbPick)) state.tlbPick = undefined;
  const auto = t.hit[0] ?? t.filled[0];
  const pick = state.tlbPick ?? (auto ? key(auto) : undefined);
  const body = h("tbody");
  const row = (e: TlbEntry, cls: string) => {
    const tr = h(
      "tr",
      { class: cls, "data-page": hex(e.linear), "data-pcid": String(e.pcid), tabindex: "0", title: "click to pick this entry (below: change its PTE without invalidation)" },
      h("td", { class: "mono" }, hex(e.linear)),
      h("td", { class: "mono" }, hex(e.frame)),
      h("td", {}, SIZE_WORDS[e.pageSize === 0x1000n ? "4K" : e.pageSize === 0x200000n ? "2M" : e.pageSize === 0x400000n ? "4M" : "1G"] ?? hex(e.pageSize)),
      h("td", {}, String(e.pcid)),
      h("td", {}, e.global ? "G" : ""),
      h("td", { class: "rights", title: "the accesses the entry serves without a walk, by CPL (0+AC: CPL 0 with EFLAGS.AC=1); a write only once the page is dirty" }, h("span", {}, `R ${served(e.read)}`), h("span", {}, `W ${served(e.write)}`), h("span", {}, `X ${served(e.fetch)}`)),
      h("td", { class: "what" }, cls.includes("evicted") ? "evicted" : hit.has(key(e)) ? "hit" : filled.has(key(e)) ? "filled" : ""),
    );
    if (!cls.includes("evicted"))
      tr.addEventListener("click", () => {
        state.tlbPick = key(e);
        renderTlb(t);
      });
    return tr;
  };
  for (const e of t.entries) {
    const cls = [hit.has(key(e)) ? "hit" : filled.has(key(e)) ? "filled" : "", key(e) === pick ? "picked" : ""].filter(Boolean).join(" ");
    body.append(row(e, cls));
  }
  for (const e of t.evicted) body.append(row(e, "evicted"));
  if (!t.entries.length && !t.evicted.length) body.append(h("tr", { class: "empty" }, h("td", { colspan: "7" }, "empty")));
  const table = h(
    "table",
    { class: "tlb-table", id: "tlb-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "page"), h("th", {}, "frame"), h("th", {}, "size"), h("th", { title: "process-context ID (CR3 bits 11:0 with CR4.PCIDE=1)" }, "PCID"), h("th", { title: "global: survives a MOV to CR3 (G=1, CR4.PGE=1)" }, "G"), h("th", {}, "rights served"), h("th", {}, ""))),
    body,
  );
  const parts: HTMLElement[] = [h("div", { class: "tlb-wrap" }, table)];
  parts.push(h("p", { class: "note" }, state.seq.on ? `${t.entries.length} entr${t.entries.length === 1 ? "y" : "ies"}; current PCID ${t.pcid}. Each entry caches one 4 KiB linear page (a page of a larger size fills one entry per 4 KiB page used).` : "What this access left in the TLB. Without sequence mode the TLB is flushed before every access, as the scenario format says: turn sequence mode on to keep it."));
  const picked = t.entries.find((e) => key(e) === pick);
  if (state.seq.on && picked) parts.push(drawPteWriter(picked, t));
  box.replaceChildren(...parts);
}

/** "Write PTE without invalidation" for the picked TLB entry: the leaf entry that maps its page now, and a store step that changes it. */
function drawPteWriter(e: TlbEntry, t: TlbView): HTMLElement {
  engine.probe ??= new CoreEngine();
  const base = parseScenario(scenarioJson([]));
  const mem = memoryWith(base, t.memory);
  const probe = parseScenario(scenarioJson([{ va: hex(e.linear), op: "read", size: 1, cpl: 0 }], mem, hex(t.cr3)));
  const r = engine.probe.run(probe, { trace: true }).results[0] as AccessResult;
  const leaf = (r.walk ?? []).at(-1);
  const box = h("div", { class: "pte-writer", id: "pte-writer" });
  if (!leaf || !leaf.allows.some((x) => x.startsWith("leaf"))) {
    box.append(h("span", { class: "note" }, `Page ${hex(e.linear)}: the tables CR3 ${hex(t.cr3)} points to no longer map it.`));
    return box;
  }
  const size = leaf.allows.find((x) => x.startsWith("leaf "))!.slice(5);
  const next = leaf.entry + (PAGE_BYTES[size] ?? 0x1000n);
  const input = h("input", { id: "pte-value", spellcheck: "false", value: hex(next), "aria-label": "new entry value" });
  const go = h("button", { type: "button", class: "small", id: "write-pte" }, "write PTE without invalidation");
  go.addEventListener("click", () => insertItem({ step: "store", paddr: hex(leaf.entryAddr), value: asHex(input.value) }));
  box.append(
    h("span", {}, `Picked: page ${hex(e.linear)}. Its ${leaf.level} entry at `, h("code", {}, hex(leaf.entryAddr)), " is ", h("code", {}, hex(leaf.entry)), " in memory now; new value "),
    input,
    go,
    h("span", { class: "note" }, " (the suggestion: the next frame, same flags)"),
  );
  return box;
}

/** Inserts `item` at the current position of the sequence and runs it (turning sequence mode on, after the access of the form, if it was off). */
function insertItem(item: AccessJson | StepJson): void {
  if (!state.seq.on) {
    state.seq = { on: true, items: [accessOfForm()], pos: 1 };
    $<HTMLInputElement>("seq-on").checked = true;
  }
  state.seq.items.splice(state.seq.pos, 0, item);
  state.seq.pos++;
  translate();
}

function renderSequenceList(results: (AccessResult | { step: string; ok: boolean })[]): void {
  const box = $("sequence");
  $("presets").hidden = state.seq.on;
  $("translate").textContent = state.seq.on ? "Run access" : "Translate";
  $("translate").title = state.seq.on ? "insert this access into the sequence after the current item, and run it" : "translate this access (the TLB flushed first)";
  if (!state.seq.on) return void box.replaceChildren();
  const { items, pos } = state.seq;
  const list = h("ol", { class: "seq-list" });
  items.forEach((x, i) => {
    const r = i < pos ? results[i] : undefined;
    const mark = !r ? "" : "step" in r && !("pa" in r) && !("fault" in r && r.fault !== "GP") ? (r.ok ? "✓" : "✗ #GP") : (r as AccessResult).ok ? ((r as AccessResult).tlb === "hit" ? "hit" : "miss") : `✗ #${(r as { fault: string }).fault}`;
    const li = h(
      "li",
      { class: `seq-item${isStep(x) ? " step" : ""}${i < pos ? " done" : ""}${i === pos - 1 ? " current" : ""}`, "data-item": String(i), tabindex: "0", title: "click: run the sequence up to this item" },
      h("span", { class: "n" }, String(i + 1)),
      h("span", { class: "what" }, isStep(x) ? stepWords(x) : accessWords(x)),
      mark ? h("span", { class: `mark ${mark === "hit" ? "hit" : mark === "miss" ? "miss" : mark.startsWith("✗") ? "bad" : ""}` }, mark) : null,
    );
    li.addEventListener("click", () => {
      state.seq.pos = i + 1;
      if (!isStep(x)) setAccess(x);
      translate();
    });
    list.append(li);
  });
  const btn = (id: string, label: string, title: string, f: () => void, disabled = false) => {
    const b = h("button", { type: "button", class: "small", id, title }, label);
    if (disabled) b.setAttribute("disabled", "");
    b.addEventListener("click", f);
    return b;
  };
  const go = (p: number) => () => {
    state.seq.pos = p;
    const x = items[p - 1];
    if (x && !isStep(x)) setAccess(x);
    translate();
  };
  const controls = h(
    "div",
    { class: "seq-controls" },
    btn("seq-first", "◀◀ start", "back to the start: nothing run, the TLB empty", go(0), pos === 0),
    btn("seq-back", "◀ back", "undo the last item (the sequence runs again from the start, one item less)", go(pos - 1), pos === 0),
    btn("seq-next", "▶ step", "run the next item", go(pos + 1), pos >= items.length),
    btn("seq-all", "▶▶ run all", "run every item", go(items.length), pos >= items.length),
    btn("seq-remove", "✕ remove current", "remove the current item from the sequence", () => {
      items.splice(pos - 1, 1);
      state.seq.pos = pos - 1;
      translate();
    }, pos === 0),
    h("span", { class: "note" }, `${pos} of ${items.length} run · the editors hold the state before item 1`),
  );
  box.replaceChildren(controls, list);
}

/** The step buttons: each inserts its step at the current position and runs it. */
function renderTlbControls(): void {
  const box = $("tlb-steps");
  const va = asHex($<HTMLInputElement>("va").value);
  const cr3 = asHex(state.regs.cr3 ?? "0x0");
  const cr3In = (document.getElementById("step-cr3") as HTMLInputElement | null) ?? h("input", { id: "step-cr3", spellcheck: "false", value: cr3, "aria-label": "new CR3" });
  const type = (document.getElementById("invpcid-type") as HTMLSelectElement | null) ?? h("select", { id: "invpcid-type", "aria-label": "INVPCID type" }, ...[0, 1, 2, 3].map((t) => h("option", { value: String(t) }, `type ${t}`)));
  const pcid = (document.getElementById("invpcid-pcid") as HTMLInputElement | null) ?? h("input", { id: "invpcid-pcid", class: "pcid", type: "number", min: "0", max: "4095", value: "0", "aria-label": "PCID" });
  const b = (id: string, label: string, title: string, item: () => StepJson) => {
    const x = h("button", { type: "button", class: "small step-btn", id, title }, label);
    x.addEventListener("click", () => insertItem(item()));
    return x;
  };
  box.replaceChildren(
    h("span", { class: "note" }, state.seq.on ? "insert a step: " : "insert a step (turns sequence mode on): "),
    h("span", { class: "step-group" }, b("step-mov-cr3", "MOV to CR3", "MOV to CR3: flushes the non-global entries (with CR4.PCIDE=1, those of the new PCID)", () => ({ step: "mov_cr3", value: asHex(cr3In.value) })), cr3In,
      b("step-mov-cr3-63", "… with bit 63", "MOV to CR3 with bit 63 set (CR4.PCIDE=1): the new PCID's entries are kept", () => ({ step: "mov_cr3", value: hex(BigInt(asHex(cr3In.value) || "0") | (1n << 63n)) }))),
    h("span", { class: "step-group" }, b("step-invlpg", `INVLPG ${va}`, "INVLPG of the access's linear address: its page's entries, global ones too", () => ({ step: "invlpg", va }))),
    h("span", { class: "step-group" }, b("step-invpcid", "INVPCID", "INVPCID of the type and PCID beside it (type 0: the access's address)", () => ({ step: "invpcid", type: Number(type.value), pcid: Number(pcid.value) || 0, va })), type, pcid),
    h("span", { class: "step-group" }, b("step-flush", "flush all", "every entry, global ones too (a MOV to CR4 toggling PGE)", () => ({ step: "flush" }))),
  );
}

// ---- Drawing the walk ----

const FIELD_CLASS: Record<string, string> = {
  sign: "f-sign", PML5: "f-pml5", PML4: "f-pml4", PDPT: "f-pdpt", PD: "f-pd", PT: "f-pt", offset: "f-offset",
  PDPTE: "f-pdpt", PDE: "f-pd", PTE: "f-pt",
};

/** What the drawing needs to know about the machine: the walk's shape, and physical memory as the scenario sets it. */
interface View {
  shape: Shape;
  la57: boolean;
  /** CR4.PSE: 4 MiB pages in 32-bit paging. */
  pse: boolean;
  /** Nested paging on: guest table addresses are guest-physical. */
  nested: boolean;
  /** The host's EFER.NXE under nested paging: bit 63 of a nested entry is XD (else reserved). */
  nptXd: boolean;
  maxphyaddr: number;
  mem: Map<bigint, bigint>;
  /** The address in `mem` of a guest table address (the same without nested paging; undefined when the nested walk did not reach it). */
  host: (addr: bigint) => bigint | undefined;
}

/** Entry size in bytes (4 with 32-bit paging) and entries per table (4 PDPTEs in PAE, 1024 with 32-bit paging). */
const entrySize = (v: View): bigint => (v.shape === "32-bit" ? 4n : 8n);
const tableEntries = (v: View, level: string): number => (level === "PDPTE" ? 4 : v.shape === "32-bit" ? 1024 : 512);

function readEntry(v: View, addr: bigint): bigint | undefined {
  const at = v.host(addr);
  if (at === undefined) return undefined;
  const q = v.mem.get(at & ~7n) ?? 0n;
  return entrySize(v) === 4n ? (q >> (at & 4n ? 32n : 0n)) & 0xffffffffn : q;
}

/** The index fields a large page's offset takes over, by walk shape (their names kept as labels). */
const LOWER_LEVELS: Record<string, { name: string; hi: number; lo: number }[]> = {
  long: [{ name: "PD", hi: 29, lo: 21 }, { name: "PT", hi: 20, lo: 12 }],
  pae: [{ name: "PTE", hi: 20, lo: 12 }],
  "32-bit": [{ name: "PTE", hi: 21, lo: 12 }],
};

function drawAddress(va: bigint, v: View, leafSize: string | undefined): HTMLElement {
  if (v.shape === "off") {
    return h(
      "div",
      { class: "card paging-off", id: "paging-off" },
      h("h2", {}, "Linear address ", h("code", { id: "va-hex" }, hex(va))),
      h("div", { class: "big" }, "paging off: physical = linear"),
      h("p", { class: "note" }, "CR0.PG=0: no page tables are walked and nothing is checked; the linear address is used as the physical address."),
    );
  }
  const fields = addressFields(va, v.shape === "long" ? v.la57 : v.shape, leafSize);
  const bits = h("div", { class: "bits" });
  const labels = h("div", { class: "bit-labels" });
  for (const f of fields) {
    const cls = `field ${FIELD_CLASS[f.name] ?? ""}`;
    const width = f.hi - f.lo + 1;
    const group = h("div", { class: cls, style: `flex: ${width} ${width} 0` });
    for (let b = f.hi; b >= f.lo; b--) group.append(h("span", { class: "bit", title: `bit ${b}` }, bit(va, b) ? "1" : "0"));
    bits.append(group);
    const value = f.name === "sign" || f.name === "offset" ? hex(f.value) : `${f.value} · ${hex(f.value)}`;
    // A large page: the bits that would index the lower tables belong to the offset; say which.
    const swallowed = f.name === "offset" && f.hi > 11 ? LOWER_LEVELS[v.shape === "long" ? "long" : v.shape]?.filter((l) => l.lo <= f.hi) : undefined;
    labels.append(
      h(
        "div",
        { class: cls, style: `flex: ${width} ${width} 0`, "data-field": f.name },
        h("b", {}, f.name === "sign" ? "sign ext." : f.name),
        h("small", {}, `${f.hi}:${f.lo}`),
        h("span", { class: "val" }, value),
        swallowed?.length ? h("small", { class: "swallowed", title: `a ${SIZE_WORDS[leafSize ?? ""] ?? "large"} page: no ${swallowed.map((l) => l.name).join(" or ")} table is walked, and these bits are part of the offset` }, `${swallowed.map((l) => `${l.name} ${l.hi}:${l.lo}`).join(" · ")} · 11:0 ${hex(va & 0xfffn)}`) : null,
      ),
    );
  }
  const mode = v.shape === "32-bit" ? "32-bit paging" : v.shape === "pae" ? "PAE paging" : v.la57 ? "5-level paging" : "4-level paging";
  return h(
    "div",
    { class: "card addr-card", id: "address" },
    h("h2", {}, "Linear address ", h("code", { id: "va-hex" }, hex(va)), h("span", { class: "note", id: "mode" }, ` · ${mode}${v.nested ? " (guest), nested paging" : ""}${leafSize ? ` · ${SIZE_WORDS[leafSize]} page` : ""}`)),
    bits,
    labels,
  );
}

const ENTRY_BITS: [string, number, string][] = [
  ["P", 0, "present"], ["RW", 1, "read/write"], ["US", 2, "user/supervisor"], ["PWT", 3, "write-through"], ["PCD", 4, "cache disable"],
  ["A", 5, "accessed"], ["D", 6, "dirty"], ["PS", 7, "page size (PAT in a PTE)"], ["G", 8, "global"], ["XD", 63, "execute-disable"],
];

/** Flip bit `n` of the entry at `addr` (a guest table address) in the memory editor. */
function flipEntryBit(v: View, addr: bigint, n: number): void {
  const at = v.host(addr);
  if (at === undefined) return;
  const q = at & ~7n;
  const shift = entrySize(v) === 4n && (at & 4n) !== 0n ? 32 : 0;
  const next = hex((v.mem.get(q) ?? 0n) ^ (1n << BigInt(n + shift)));
  const w = state.words.find((x) => x.count === 1 && BigInt(x.paddr) === q);
  if (w) w.value = next;
  else state.words.push({ paddr: hex(q), value: next, count: 1 });
  renderMemory();
  translate();
}

function drawLevel(step: WalkStep, v: View, fromCr3: boolean, cpu: Scenario["cpu"]): HTMLElement {
  const cls = FIELD_CLASS[step.level] ?? "";
  const size = entrySize(v);
  const count = tableEntries(v, step.level);
  // The selected entry, and the other non-zero entries of the table nearest to it.
  const others: number[] = [];
  for (let i = 0; i < count; i++) if (i !== step.index && (readEntry(v, step.table + size * BigInt(i)) ?? 0n) !== 0n) others.push(i);
  others.sort((a, b) => Math.abs(a - step.index) - Math.abs(b - step.index));
  const shown = [step.index, ...others.slice(0, 4)].sort((a, b) => a - b);
  const rows = h("tbody");
  let prev = -1;
  const gap = (n: number) => h("tr", { class: "gap" }, h("td", { colspan: "4" }, `⋯ ${n} more entr${n === 1 ? "y" : "ies"}`));
  for (const i of shown) {
    if (i > prev + 1) rows.append(gap(i - prev - 1));
    const sel = i === step.index;
    const value = sel ? step.entry : (readEntry(v, step.table + size * BigInt(i)) ?? 0n);
    const flags = flagNames(step.level, value);
    rows.append(
      h(
        "tr",
        { class: sel ? `selected ${cls}` : "" },
        h("td", { class: "idx" }, `[${i}]`),
        h("td", { class: "mono addr" }, hex(step.table + size * BigInt(i))),
        h("td", { class: "mono val" }, hex(value)),
        h("td", { class: "flags" }, flags.length ? flags.join(" ") : "not present"),
      ),
    );
    prev = i;
  }
  if (prev < count - 1) rows.append(gap(count - 1 - prev));

  // The selected entry's bits, each a button that flips it in memory.
  const pte = step.level === "PT" || step.level === "PTE";
  const bitsHere = ENTRY_BITS.filter(([name]) => (step.level === "PDPTE" ? ["P", "PWT", "PCD"].includes(name) : v.shape === "32-bit" ? name !== "XD" : true));
  const chips = h("div", { class: "chips entry-bits" });
  const canFlip = v.host(step.entryAddr) !== undefined;
  for (const [name, n, title] of bitsHere) {
    const label = name === "PS" && pte ? "PAT" : name;
    const on = bit(step.entry, n);
    const b = h("button", { type: "button", class: `chip${on ? " on" : ""}`, title: `bit ${n}: ${title} — click to flip it in memory` }, label);
    if (canFlip) b.addEventListener("click", () => flipEntryBit(v, step.entryAddr, n));
    else b.setAttribute("disabled", "");
    chips.append(b);
  }
  const key = v.shape === "long" ? Number((step.entry >> 59n) & 0xfn) : 0;
  if (key) chips.append(h("span", { class: "chip on static" }, `PK=${key}`));
  const t = targetOf(step.level, step.entry, { pae: v.shape === "pae", pse: v.pse });
  const present = bit(step.entry, 0);
  const leaf = t?.kind === "page";
  const where = v.nested ? " (guest-physical)" : "";
  const detail = h(
    "div",
    { class: "entry-detail" },
    chips,
    present
      ? h("div", { class: "allows" }, step.level === "PDPTE" ? "a PAE PDPTE has no R/W, U/S or XD: it restricts nothing" : `allows ${allowsWords(step.allows)}${leaf ? " · leaf" : ""}`)
      : h("div", { class: "allows bad" }, "not present: P=0, every other bit is ignored"),
    t && h("div", { class: "target" }, t.kind === "table" ? `→ ${t.level} table at ${hex(t.paddr)}${where}` : `→ ${SIZE_WORDS[t.size]} page at ${hex(t.paddr)}${where}`),
    t?.kind === "page" && t.size === "4M" ? drawPse36(step.entry, v.maxphyaddr) : null,
    step.stop?.startsWith("reserved bit") && v.shape !== "32-bit" ? drawReserved(step, v, cpu) : null,
  );
  const head =
    step.level === "PDPTE"
      ? [` register [${step.index}]`, h("span", { class: "note" }, ` · loaded from ${hex(step.entryAddr)} (PDPT at CR3 ${hex(step.table)})`)]
      : [` table at ${hex(step.table)}`, fromCr3 ? h("span", { class: "note" }, " (CR3)") : null, h("span", { class: "note" }, ` · entry [${step.index}] at ${hex(step.entryAddr)}${where}`)];
  return h(
    "div",
    { class: `level ${cls}`, "data-level": step.level },
    h("div", { class: "level-head" }, h("span", { class: "tag" }, step.level), ...head),
    h("table", { class: "entries" }, rows),
    detail,
    step.stop ? h("div", { class: "stop" }, h("b", {}, "The walk stops here: "), step.stop) : null,
  );
}

/**
 * The reserved bits of an entry the walk stopped at (SDM 4.5, tables 4-15..4-20; PAE 4-8..4-11): address bits at or
 * above MAXPHYADDR, XD without EFER.NXE, PS in a PML4E/PML5E, bits 20:13 or 29:13 of a large page's frame address.
 * Drawn as the entry's 64 bits, the reserved ones shaded, those set in red.
 */
function reservedMask(step: WalkStep, v: View, cpu: Scenario["cpu"]): bigint {
  const top = v.shape === "pae" ? 62 : 51;
  let mask = ((1n << BigInt(top + 1)) - 1n) & ~0xfffn & ~((1n << BigInt(v.maxphyaddr)) - 1n);
  if (!bit(cpu.efer, 11)) mask |= 1n << 63n;
  if (step.level === "PML4" || step.level === "PML5") mask |= 1n << 7n;
  const t = targetOf(step.level, step.entry, { pae: v.shape === "pae", pse: v.pse });
  if (t?.kind === "page" && (t.size === "2M" || t.size === "1G")) mask |= ((1n << BigInt(t.size === "2M" ? 21 : 30)) - 1n) & ~0x1fffn;
  return mask;
}

function drawReserved(step: WalkStep, v: View, cpu: Scenario["cpu"]): HTMLElement {
  const mask = reservedMask(step, v, cpu);
  const bad = step.entry & mask;
  const row = (hi: number) => {
    const r = h("div", { class: "rsvd-row" }, h("small", {}, String(hi)));
    for (let b = hi; b > hi - 16; b--) {
      const reserved = bit(mask, b);
      const on = bit(step.entry, b);
      r.append(h("span", { class: `bit${on ? " on" : ""}${reserved ? " reserved" : ""}${reserved && on ? " bad" : ""}`, title: `bit ${b}${reserved ? " (reserved)" : ""} = ${on ? 1 : 0}` }, on ? "1" : "0"));
    }
    r.append(h("small", {}, String(hi - 15)));
    return r;
  };
  const bits: number[] = [];
  for (let b = 63; b >= 0; b--) if (bit(bad, b)) bits.push(b);
  return h(
    "div",
    { class: "rsvd", id: "rsvd" },
    h("div", { class: "note" }, "the entry's 64 bits; shaded: reserved here, red: reserved and set"),
    row(63),
    row(47),
    row(31),
    row(15),
    h("div", { class: "rsvd-bad" }, bits.length ? `reserved bit${bits.length > 1 ? "s" : ""} set: ${bits.join(", ")} (${hex(bad)})` : "no reserved bit of this entry is set"),
  );
}

/**
 * A 4 MiB PDE's frame address, drawn: the entry's 32 bits in fields (31:22 give PA 31:22; 21 must be 0; 20:13, PSE-36,
 * give PA 39:32, those at or above min(MAXPHYADDR, 40) reserved; 12 is PAT; 11:0 the flags), then the mapping as a table.
 */
function drawPse36(entry: bigint, maxphyaddr: number): HTMLElement {
  const lo = (entry >> 22n) & 0x3ffn;
  const hi = (entry >> 13n) & 0xffn;
  const top = Math.min(maxphyaddr, 40);
  const FIELDS: { hi: number; lo: number; cls: string; label: string; title: string }[] = [
    { hi: 31, lo: 22, cls: "pa-lo", label: "→ PA 31:22", title: "bits 31:22: physical-address bits 31:22 of the 4 MiB frame" },
    { hi: 21, lo: 21, cls: "rsvd", label: "", title: "bit 21: reserved (must be 0)" },
    { hi: 20, lo: 13, cls: "pa-hi", label: "→ PA 39:32", title: `bits 20:13 (PSE-36): physical-address bits 39:32; bits ${13 + top - 32 <= 20 ? `20:${13 + top - 32}` : "none"} reserved with MAXPHYADDR ${maxphyaddr}` },
    { hi: 12, lo: 12, cls: "pat", label: "", title: "bit 12: PAT" },
    { hi: 11, lo: 0, cls: "flags", label: "flags", title: "bits 11:0: G, PS=1, D, A, PCD, PWT, U/S, R/W, P" },
  ];
  const bits = h("div", { class: "pde-bits" });
  const labels = h("div", { class: "pde-labels" });
  for (const f of FIELDS) {
    const width = f.hi - f.lo + 1;
    const group = h("div", { class: `field ${f.cls}`, style: `flex: ${width} ${width} 0`, title: f.title });
    for (let b = f.hi; b >= f.lo; b--) {
      const reserved = f.cls === "rsvd" || (f.cls === "pa-hi" && b - 13 + 32 >= top);
      group.append(h("span", { class: `bit${reserved ? " reserved" : ""}${reserved && bit(entry, b) ? " bad" : ""}`, title: `bit ${b}${reserved ? " (reserved)" : ""}` }, bit(entry, b) ? "1" : "0"));
    }
    bits.append(group);
    labels.append(h("div", { class: `field ${f.cls}`, style: `flex: ${width} ${width} 0` }, f.label ? h("b", {}, `${f.hi}:${f.lo}`) : null, f.label ? h("span", {}, f.label) : null));
  }
  const row = (from: string, to: string, value: bigint, width: number) =>
    h("tr", {}, h("td", {}, `PDE ${from}`), h("td", {}, "→"), h("td", {}, `PA ${to}`), h("td", { class: "mono" }, value.toString(2).padStart(width, "0")), h("td", { class: "mono" }, hex(value)));
  return h(
    "div",
    { class: "pse36", id: "pse36" },
    h("div", { class: "note" }, "4 MiB frame (PSE-36): the PDE's split address bits; the linear address gives the offset, bits 21:0"),
    bits,
    labels,
    h("table", {}, h("tbody", {}, row("31:22", "31:22", lo, 10), row("20:13", "39:32", hi, 8))),
  );
}

const NESTED_COLS = ["PML4", "PDPT", "PD", "PT"];
const PAGE_BYTES: Record<string, bigint> = { "4K": 0x1000n, "2M": 0x200000n, "4M": 0x400000n, "1G": 0x40000000n };

/** The host-physical address a nested walk gave `gpa` (the trace's `hpa`, else from the nested leaf); undefined when it faulted. */
function hostOf(nested: WalkStep[], gpa: bigint, hpa?: bigint): bigint | undefined {
  if (hpa !== undefined) return hpa;
  const leaf = nested[nested.length - 1];
  if (!leaf || leaf.stop) return undefined;
  const t = targetOf(leaf.level, leaf.entry);
  return t?.kind === "page" ? t.paddr + (gpa & (PAGE_BYTES[t.size]! - 1n)) : undefined;
}

/** The grid cell the student picked ("page/row/column"), kept across re-runs while the walk still has it. */
const nestedPick = { key: undefined as string | undefined, entry: undefined as string | undefined };

/** Flip bit `n` of the 8-byte nested entry at host-physical `addr` in the memory editor. */
function flipHostBit(v: View, addr: bigint, n: number): void {
  const q = addr & ~7n;
  const next = hex((v.mem.get(q) ?? 0n) ^ (1n << BigInt(n)));
  const w = state.words.find((x) => x.count === 1 && BigInt(x.paddr) === q);
  if (w) w.value = next;
  else state.words.push({ paddr: hex(q), value: next, count: 1 });
  renderMemory();
  translate();
}

interface GridCell {
  step: WalkStep;
  /** A guest entry (guest-physical `entryAddr`), else a nested one (host-physical). */
  guest: boolean;
  /** The grid row: "PML4[0]", …, "final". */
  row: string;
  /** The guest-physical address the row translates. */
  gpa: bigint;
  /** "page/row/column": the cell's key in `nestedPick`. */
  key: string;
}

/** The entry picked in the grid, with its bits as buttons that flip it in memory; then the walk runs again. */
function drawCellEditor(c: GridCell, v: View): HTMLElement {
  const st = c.step;
  const hostAddr = c.guest ? v.host(st.entryAddr) : st.entryAddr;
  const name = `${c.guest ? "" : "n"}${st.level}`;
  const cls = FIELD_CLASS[st.level] ?? "";
  // The entry in memory before the access (what the editors hold and a flip changes); a later row may read it with A already set.
  const inMemory = c.guest ? readEntry(v, st.entryAddr) : (v.mem.get(st.entryAddr & ~7n) ?? 0n);
  const value = inMemory ?? st.entry;
  const chips = h("div", { class: "chips entry-bits" });
  const pte = st.level === "PT";
  for (const [bitName, n, title] of ENTRY_BITS) {
    const label = bitName === "PS" && pte ? "PAT" : bitName;
    const why = !c.guest && bitName === "XD" && !v.nptXd ? " (reserved: the host's EFER.NXE=0)" : !c.guest && bitName === "PS" && st.level === "PML4" ? " (reserved in a PML4E)" : "";
    const b = h("button", { type: "button", class: `chip${bit(value, n) ? " on" : ""}`, title: `bit ${n}: ${title}${why} — click to flip it in memory and walk again` }, label);
    if (hostAddr === undefined) b.setAttribute("disabled", "");
    else
      b.addEventListener("click", () => {
        // The edited entry stays picked after the walk runs again (by its cell, else by its address when the walk now stops before that row).
        nestedPick.key = c.key;
        nestedPick.entry = entryId(c);
        if (c.guest) flipEntryBit(v, st.entryAddr, n);
        else flipHostBit(v, st.entryAddr, n);
      });
    chips.append(b);
  }
  const t = targetOf(st.level, st.entry);
  const where = c.guest ? "guest-physical" : "host-physical";
  return h(
    "div",
    { class: `cell-editor ${cls}`, id: "cell-editor", "data-entry": `${c.row}/${name}` },
    h(
      "div",
      { class: "cell-editor-head" },
      h("span", { class: "tag" }, name),
      ` [${st.index}] at ${where} `,
      h("code", {}, hex(st.entryAddr)),
      c.guest && hostAddr !== undefined ? h("span", { class: "note" }, ` (host-physical ${hex(hostAddr)})`) : null,
      " = ",
      h("code", { class: "cell-value" }, hex(value)),
      value !== st.entry ? h("span", { class: "note" }, ` in memory before the access; this row read ${hex(st.entry)} (A or D set earlier in the same access)`) : null,
      h("span", { class: "note" }, c.guest ? ` · the guest's ${st.level} entry of row ${c.row}` : ` · nested walk of row ${c.row}, translating guest-physical ${hex(c.gpa)}`),
    ),
    chips,
    h(
      "div",
      { class: bit(st.entry, 0) ? "allows" : "allows bad" },
      bit(st.entry, 0) ? `allows ${allowsWords(st.allows)}` : "not present: P=0",
      t ? ` · → ${t.kind === "table" ? `${c.guest ? "" : "n"}${t.level} table` : `${SIZE_WORDS[t.size]} page`} at ${hex(t.paddr)}` : "",
    ),
    st.stop ? h("div", { class: "stop" }, h("b", {}, "The walk stops here: "), st.stop) : null,
    h("p", { class: "note" }, c.guest ? "Click another cell of the grid to edit it. A guest entry is edited at its host-physical address." : "Nested entries are 8 bytes, in long mode's format, at host-physical addresses; every nested access is a user access, and a write for a guest table entry. Click another cell to edit it."),
  );
}

/** A grid cell's entry, by kind and address: the same entry may sit in several rows (the nested PML4E of every row, often). */
const entryId = (c: GridCell): string => `${c.guest ? "g" : "n"}${hex(c.step.entryAddr)}`;

/** Why a nested walk faulted, in words, from EXITINFO1 and the entries of that walk (`row`, the nested steps of the faulting row), and the entry to blame. */
function npfReason(exitinfo1: bigint, row: WalkStep[]): { text: string; cause?: WalkStep } {
  const at = row.find((st) => st.stop) ?? row[row.length - 1];
  const name = (st: WalkStep) => `n${st.level}[${st.index}]`;
  if (!bit(exitinfo1, 0)) return { text: `${at ? name(at) : "a nested entry"} is not present (P=0)`, cause: at };
  if (bit(exitinfo1, 3)) return { text: `${at ? name(at) : "a nested entry"} sets a reserved bit`, cause: at };
  if (bit(exitinfo1, 4)) {
    const xd = row.find((st) => bit(st.entry, 63));
    return { text: `a fetch, and ${xd ? `XD=1 in ${name(xd)}` : "a nested entry sets XD"} (host EFER.NXE=1)`, cause: xd };
  }
  const us = row.find((st) => !bit(st.entry, 2));
  if (us) return { text: `U/S=0 in ${name(us)}: every nested access is a user access`, cause: us };
  const rw = row.find((st) => !bit(st.entry, 1));
  if (rw && bit(exitinfo1, 1)) return { text: `R/W=0 in ${name(rw)}: ${bit(exitinfo1, 33) ? "a guest table entry is reached by a nested write, which" : "a write"} needs R/W=1 in every nested entry`, cause: rw };
  return { text: "" };
}

/** The 2-D walk of nested paging: a row per guest level plus the final address, a column per nested level, then the guest entry. */
function drawNested(pages: NestedWalk[], names: string[], r: AccessResult, v: View): HTMLElement {
  const card = h("div", { class: "card nested", id: "nested" });
  const picks = new Map<string, GridCell>();
  let stoppedKey: string | undefined;
  let firstKey: string | undefined;
  const pickable = (td: HTMLElement, key: string, cell: GridCell) => {
    picks.set(key, cell);
    firstKey ??= key;
    if (cell.step.stop) stoppedKey ??= key;
    td.classList.add("pickable");
    td.setAttribute("data-key", key);
    td.setAttribute("tabindex", "0");
    td.setAttribute("role", "button");
    const pick = () => {
      nestedPick.key = key;
      nestedPick.entry = entryId(cell);
      translate();
    };
    td.addEventListener("click", pick);
    td.addEventListener("keydown", (e) => {
      if ((e as KeyboardEvent).key === "Enter" || (e as KeyboardEvent).key === " ") {
        e.preventDefault();
        pick();
      }
    });
    return td;
  };
  pages.forEach((page, p) => {
    card.append(
      h(
        "h2",
        {},
        `2-D walk${pages.length > 1 ? ` (page ${p + 1})` : ""}`,
        h("span", { class: "note" }, " · each guest-physical address goes through the 4 nested levels (host tables from nCR3) before the guest entry it holds is read; click a cell to edit its entry"),
      ),
    );
    const head = h("tr", {}, h("th", {}, "guest level"), h("th", {}, "guest-physical"), ...NESTED_COLS.map((c) => h("th", { class: `n ${FIELD_CLASS[c]}` }, `n${c}`)), h("th", {}, "guest entry"), h("th", { title: "memory references of the row" }, "refs"));
    const body = h("tbody");
    let nestedRefs = 0;
    let guestRefs = 0;
    // A guest level whose nested walk faulted was not read: its gPA is then EXITINFO2 (CoreEngine's trace may give 0 there).
    const rowGpa = (l: NestedWalk["levels"][number]) => (!l.guest && l.gpa === 0n && !r.ok && r.fault === "NPF" && bit(r.exitinfo1, 33) ? r.exitinfo2 : l.gpa);
    const rows = page.levels.map((l, i) => ({ name: l.guest ? `${l.guest.level}[${l.guest.index}]` : (names[i] ?? "?"), cls: FIELD_CLASS[l.guest?.level ?? names[i] ?? ""] ?? "", gpa: rowGpa(l), nested: l.nested, guest: l.guest, hpa: hostOf(l.nested, l.gpa, l.hpa), final: false }));
    if (page.final) rows.push({ name: "final", cls: "f-offset", gpa: page.final.gpa, nested: page.final.nested, guest: undefined, hpa: hostOf(page.final.nested, page.final.gpa, page.final.hpa), final: true });
    for (const row of rows) {
      nestedRefs += row.nested.length;
      if (row.guest) guestRefs++;
      const cells = NESTED_COLS.map((c) => {
        const st = row.nested.find((n) => n.level === c);
        if (!st) return h("td", { class: "cell skip", "data-col": c, title: "not read: the walk stopped before this level" }, "—");
        const flags = flagNames(st.level, st.entry);
        const t = targetOf(st.level, st.entry);
        const title = `n${st.level}[${st.index}] at host-physical ${hex(st.entryAddr)} (table ${hex(st.table)}) = ${hex(st.entry)}\n${flags.length ? flags.join(" ") : "not present"}${t ? `\n→ ${t.kind === "table" ? `n${t.level} table` : `${SIZE_WORDS[t.size]} page`} at ${hex(t.paddr)}` : ""}${st.stop ? `\nstops: ${st.stop}` : ""}\nclick to edit`;
        const td = h(
          "td",
          { class: `cell${st.stop ? " stopped" : ""}`, "data-col": c, title },
          h("span", { class: "mono val" }, hex(st.entry)),
          h("small", {}, `[${st.index}] ${flags.length ? flags.join(" ") : "P=0"}`),
          h("small", { class: "addr mono" }, `@${hex(st.entryAddr)}`),
        );
        const key = `${p}/${row.name}/${c}`;
        return pickable(td, key, { step: st, guest: false, row: row.name, gpa: row.gpa, key });
      });
      let guestCell: HTMLElement;
      if (row.guest) {
        const g = row.guest;
        guestCell = h(
          "td",
          { class: `cell guest${g.stop ? " stopped" : ""}`, "data-col": "guest", title: `${g.level}[${g.index}] at guest-physical ${hex(g.entryAddr)}${row.hpa !== undefined ? `, host-physical ${hex(row.hpa)}` : ""} = ${hex(g.entry)}${g.stop ? `\nstops: ${g.stop}` : ""}\nclick to edit` },
          h("span", { class: "mono val" }, hex(g.entry)),
          h("small", {}, flagNames(g.level, g.entry).join(" ") || "P=0"),
          h("small", { class: "addr mono" }, row.hpa !== undefined ? `@${hex(row.hpa)}` : ""),
        );
        const key = `${p}/${row.name}/guest`;
        pickable(guestCell, key, { step: g, guest: true, row: row.name, gpa: row.gpa, key });
      } else if (row.final) {
        guestCell =
          row.hpa !== undefined
            ? h("td", { class: "cell guest final", "data-col": "guest", title: `guest-physical ${hex(row.gpa)} is host-physical ${hex(row.hpa)}` }, h("span", { class: "mono" }, `→ ${hex(row.hpa)}`), h("small", {}, "host-physical"))
            : h("td", { class: "cell skip", "data-col": "guest", title: "the final address did not translate" }, "no host address");
      } else {
        guestCell = h("td", { class: "cell skip", "data-col": "guest", title: "not read: its nested walk faulted" }, "not read");
      }
      const refs = row.nested.length + (row.guest ? 1 : 0);
      body.append(h("tr", { "data-row": row.name }, h("th", { class: `rowname ${row.cls}` }, h("span", { class: "tag" }, row.name)), h("td", { class: "mono" }, hex(row.gpa)), ...cells, guestCell, h("td", { class: "refs" }, String(refs))));
      const stopped = row.nested.find((n) => n.stop) ?? (row.guest?.stop ? row.guest : undefined);
      if (stopped) {
        const { text: reason, cause } = stopped.gpa !== undefined && !r.ok && r.fault === "NPF" ? npfReason(r.exitinfo1, row.nested) : { text: "", cause: undefined };
        if (cause) body.lastElementChild?.querySelector(`td[data-col="${cause.level}"]`)?.classList.add("cause");
        const why = stopped.gpa !== undefined ? " → #VMEXIT(NPF) to the hypervisor" : !r.ok && r.fault === "PF" ? " → #PF in the guest" : "";
        body.append(h("tr", { class: "stop-row" }, h("td", { colspan: "8" }, h("b", {}, `stops at ${stopped.gpa !== undefined ? "n" : ""}${stopped.level}: `), stopped.stop ?? "", why, reason ? h("span", { class: "reason" }, ` · why: ${reason}`) : null)));
      }
    }
    card.append(
      h("div", { class: "grid-wrap" }, h("table", { class: "grid2d" }, h("thead", {}, head), body)),
      h("p", { class: "note refs-total", "data-refs": String(nestedRefs + guestRefs) }, `memory references: ${nestedRefs + guestRefs} (${nestedRefs} nested, ${guestRefs} guest); without nested paging this walk would take ${rows.filter((x) => !x.final).length}.`),
    );
  });
  // The picked cell (else the one where the walk stopped, else the first): outlined, and its entry editable below the grid.
  const sameEntry = [...picks].find(([, c]) => entryId(c) === nestedPick.entry)?.[0];
  const key = nestedPick.key !== undefined && picks.has(nestedPick.key) ? nestedPick.key : (sameEntry ?? stoppedKey ?? firstKey);
  if (key !== undefined) {
    card.querySelector(`[data-key="${CSS.escape(key)}"]`)?.classList.add("picked");
    card.append(drawCellEditor(picks.get(key)!, v));
  }
  return card;
}

const EXITINFO1_BITS: { bit: number; name: string; clear: string; set: string }[] = [
  { bit: 0, name: "P", clear: "a nested entry was not present", set: "a protection or reserved-bit violation" },
  { bit: 1, name: "RW", clear: "a read", set: "a write (always, for a guest table entry)" },
  { bit: 2, name: "US", clear: "a supervisor access", set: "a user access (nested walks always are)" },
  { bit: 3, name: "RSVD", clear: "no reserved bit set", set: "a nested entry sets a reserved bit" },
  { bit: 4, name: "ID", clear: "not an instruction fetch", set: "an instruction fetch (host EFER.NXE=1)" },
  { bit: 32, name: "FINAL", clear: "not the final address", set: "translating the access's final guest-physical address" },
  { bit: 33, name: "TABLE", clear: "not a guest table entry", set: "translating a guest page-table entry's address" },
];

function drawResult(r: AccessResult, v: View, s: Scenario, finalGpa: bigint | undefined): HTMLElement {
  if (r.ok) {
    return h(
      "div",
      { class: "card outcome ok", id: "outcome" },
      h("div", { class: "big" }, `✓ ${v.nested ? "host-" : ""}physical address `, h("code", { id: "pa" }, hex(r.pa)), v.shape === "off" ? h("span", { class: "note" }, "  (paging off: = the linear address)") : null),
      v.nested && finalGpa !== undefined ? h("div", {}, "guest-physical ", h("code", { id: "gpa" }, hex(finalGpa)), " translated by the nested tables") : null,
      r.value !== undefined ? h("div", {}, "value read ", h("code", {}, hex(r.value))) : null,
    );
  }
  if (r.fault === "GP" && v.shape === "pae") {
    const base = s.cpu.cr3 & 0xffffffe0n;
    const rsvd = 0x1e6n | (((1n << 64n) - 1n) & ~((1n << BigInt(v.maxphyaddr)) - 1n));
    const list = h("ul", { class: "pdptes" });
    for (let i = 0; i < 4; i++) {
      const e = v.mem.get(base + 8n * BigInt(i)) ?? 0n;
      const bad = bit(e, 0) && (e & rsvd) !== 0n;
      list.append(h("li", { class: bad ? "bad" : "" }, h("code", {}, `PDPTE[${i}] at ${hex(base + 8n * BigInt(i))} = ${hex(e)}`), bad ? ` reserved bits ${hex(e & rsvd)}` : bit(e, 0) ? " ok" : " not present"));
    }
    return h(
      "div",
      { class: "card outcome bad", id: "outcome" },
      h("div", { class: "big" }, "✗ #GP(0) general-protection fault"),
      h("div", {}, "Loading the four PDPTE registers from CR3 found a present PDPTE with a reserved bit (2:1, 8:5 or 63:MAXPHYADDR). No walk is made."),
      list,
    );
  }
  if (r.fault === "GP") {
    const top = v.la57 ? 56 : 47;
    return h(
      "div",
      { class: "card outcome bad", id: "outcome" },
      h("div", { class: "big" }, "✗ #GP(0) general-protection fault"),
      h("div", {}, `The address is not canonical: bits 63:${top + 1} must all equal bit ${top}. No walk is made.`),
    );
  }
  if (r.fault === "NPF") {
    const rows = (r.nestedWalk ?? []).flatMap((p) => [...p.levels.map((l) => l.nested), ...(p.final ? [p.final.nested] : [])]);
    const faulting = rows.find((row) => row.some((st) => st.stop));
    const reason = faulting ? npfReason(r.exitinfo1, faulting).text : "";
    const grid = h("div", { class: "pfec" });
    for (const f of [...EXITINFO1_BITS].reverse()) {
      const value = bit(r.exitinfo1, f.bit);
      grid.append(
        h("div", { class: `pfec-bit${value ? " set" : ""}`, "data-bit": f.name }, h("small", {}, `bit ${f.bit}`), h("b", {}, f.name), h("span", { class: "v" }, value ? "1" : "0"), h("span", { class: "m" }, value ? f.set : f.clear)),
      );
    }
    return h(
      "div",
      { class: "card outcome bad", id: "outcome" },
      h("div", { class: "big" }, "✗ #VMEXIT(NPF) nested page fault, EXITINFO1 ", h("code", { id: "exitinfo1" }, hex(r.exitinfo1)), h("span", { class: "note" }, ` (${describeExitInfo1(r.exitinfo1)})  EXITINFO2 = `), h("code", { id: "exitinfo2" }, hex(r.exitinfo2))),
      reason ? h("div", { id: "npf-why" }, h("b", {}, "Why: "), reason) : null,
      h("div", { class: "note" }, "The guest does not see this fault: the hypervisor gets a #VMEXIT with exit code 0x400; EXITINFO2 is the guest-physical address whose translation failed."),
      grid,
    );
  }
  const code = Number(r.errorCode);
  const grid = h("div", { class: "pfec" });
  for (const f of [...errorCodeFields(code)].reverse()) {
    grid.append(
      h("div", { class: `pfec-bit${f.value ? " set" : ""}`, "data-bit": f.name }, h("small", {}, `bit ${f.bit}`), h("b", {}, f.name), h("span", { class: "v" }, String(f.value)), h("span", { class: "m" }, f.meaning)),
    );
  }
  return h(
    "div",
    { class: "card outcome bad", id: "outcome" },
    h("div", { class: "big" }, `✗ #PF page fault${v.nested ? " in the guest" : ""}, error code `, h("code", { id: "error-code" }, hex(r.errorCode)), h("span", { class: "note" }, "  CR2 = "), h("code", { id: "cr2" }, hex(r.cr2))),
    grid,
  );
}

function renderResult(s: Scenario, r: AccessResult, changed: { paddr: bigint; value: bigint }[], tlbNote?: HTMLElement): void {
  const a = s.accesses[0]!;
  const shape = shapeOf(s.cpu);
  const la57 = bit(s.cpu.cr4, 12);
  const nested = s.cpu.npt !== undefined;
  // Guest table pages and their host frames, from the nested walks.
  const hostPages = new Map<bigint, bigint>();
  for (const page of r.nestedWalk ?? [])
    for (const l of page.levels) {
      const hpa = hostOf(l.nested, l.gpa, l.hpa);
      if (hpa !== undefined) hostPages.set(l.gpa >> 12n, hpa >> 12n);
    }
  const v: View = {
    shape,
    la57,
    pse: bit(s.cpu.cr4, 4),
    nested,
    nptXd: s.cpu.npt?.nxe ?? true,
    maxphyaddr: s.cpu.maxphyaddr ?? 52,
    mem: memoryMap(s),
    host: (addr) => {
      if (!nested) return addr;
      const hp = hostPages.get(addr >> 12n);
      return hp === undefined ? undefined : (hp << 12n) | (addr & 0xfffn);
    },
  };
  const walks = splitWalks(r.walk ?? []);
  const checks = checksOf(a, r, s.cpu);
  const guestSteps = walks.flat();
  const leafSize = guestSteps.map((st) => st.allows.find((x) => x.startsWith("leaf "))?.slice(5)).find((x) => x !== undefined && x !== "4K");
  const out: HTMLElement[] = [drawAddress(a.va, v, leafSize)];
  if (tlbNote) out.push(tlbNote);
  const names = shape === "32-bit" ? ["PDE", "PTE"] : shape === "pae" ? ["PDPTE", "PDE", "PTE"] : la57 ? ["PML5", "PML4", "PDPT", "PD", "PT"] : ["PML4", "PDPT", "PD", "PT"];
  if (r.nestedWalk?.length) out.push(drawNested(r.nestedWalk, names, r, v));

  walks.forEach((walk, w) => {
    const card = h("div", { class: "card walk" });
    const next = ((a.va >> 12n) + 1n) << 12n;
    const title = w === 0 ? `${nested ? "Guest walk" : "Walk"}` : `Second walk: the access crosses into the page at ${hex(shape === "long" ? next : next & 0xffffffffn)}`;
    card.append(h("h2", {}, title, nested ? h("span", { class: "note" }, " · guest tables at guest-physical addresses (the grid above shows how each was reached)") : null));
    // The cards in a row when they fit (CSS container queries by their count), else one under the other.
    const chain = h("div", { class: `chain n${walk.length}` });
    walk.forEach((step, i) => {
      if (i > 0) chain.append(h("div", { class: "arrow", "aria-hidden": "true" }, h("span", {}, "→")));
      chain.append(drawLevel(step, v, i === 0, s.cpu));
    });
    card.append(chain);
    const list = h("ul", { class: "checks" });
    for (const c of checks[w] ?? []) {
      const mark = !c.applies ? "–" : c.pass ? "✓" : "✗";
      list.append(
        h("li", { class: !c.applies ? "na" : c.pass ? "pass" : "fail", "data-check": c.name }, h("span", { class: "mark" }, mark), h("b", {}, c.name), h("span", { class: "why" }, c.why), h("span", { class: "rule" }, c.rule)),
      );
    }
    card.append(h("h3", {}, "Permission checks (SDM 4.6)"), list);
    out.push(card);
  });
  const finalGpa = r.nestedWalk?.[0]?.final?.gpa;
  out.push(drawResult(r, v, s, finalGpa));
  if (changed.length) {
    out.push(
      h(
        "div",
        { class: "card changes" },
        h("h3", {}, `Memory written by the access${nested ? " (host-physical)" : ""}`),
        h("div", { class: "mono words" }, ...changed.map((m) => h("span", {}, `${hex(m.paddr)} = ${hex(m.value)}`))),
        h("p", { class: "note" }, "The walk sets accessed (A) flags, a write sets dirty (D); the editors keep the state before the access."),
      ),
    );
  }
  $("result").replaceChildren(...out);
  document.body.dataset.ready = "true";
}

// ---- The page-table builder: VA=PA mappings, built through the library's PageTable API (as the CLI's --map) ----

interface MapRow {
  va: string;
  pa: string;
  size: string;
  flags: Set<string>;
  pk: string;
}

const maps: MapRow[] = [
  { va: "0x400000", pa: "0x5000", size: "4K", flags: new Set(["RW", "US"]), pk: "0" },
  { va: "0x401000", pa: "0x6000", size: "4K", flags: new Set(["US", "NX"]), pk: "0" },
];
const MAP_FLAGS: [string, keyof PteFlags, string][] = [["RW", "writable", "R/W: writes allowed"], ["US", "user", "U/S: user-mode accesses allowed"], ["NX", "noExecute", "XD: no instruction fetches (EFER.NXE=1)"], ["G", "global", "G: the TLB keeps it across a MOV to CR3 (CR4.PGE=1)"]];

/** The table format the registers select (whether or not CR0.PG is set), as the builder must make it. */
function tableFormat(): "32-bit" | "pae" | 4 | 5 {
  const cr4 = parseNum(state.regs.cr4 ?? "0", "CR4");
  const efer = parseNum(state.regs.efer ?? "0", "EFER");
  return !bit(cr4, 5) ? "32-bit" : !bit(efer, 8) ? "pae" : bit(cr4, 12) ? 5 : 4;
}

function renderBuilder(): void {
  const body = $("builder").querySelector("tbody")!;
  body.replaceChildren();
  let format: ReturnType<typeof tableFormat> = 4;
  try {
    format = tableFormat();
  } catch {
    /* the registers are being edited: offer the long-mode sizes */
  }
  const sizes = format === "32-bit" ? ["4K", "4M"] : format === "pae" ? ["4K", "2M"] : ["4K", "2M", "1G"];
  maps.forEach((m, i) => {
    if (!sizes.includes(m.size)) m.size = "4K";
    const va = h("input", { spellcheck: "false", value: m.va, "aria-label": "linear address", class: "map-va" });
    const pa = h("input", { spellcheck: "false", value: m.pa, "aria-label": "physical address", class: "map-pa" });
    const size = h("select", { "aria-label": "page size", class: "map-size" }, ...sizes.map((z) => h("option", { value: z }, z)));
    size.value = m.size;
    va.addEventListener("change", () => (m.va = va.value.trim()));
    pa.addEventListener("change", () => (m.pa = pa.value.trim()));
    size.addEventListener("change", () => (m.size = size.value));
    const chips = h("div", { class: "chips" });
    for (const [name, , title] of MAP_FLAGS) {
      const c = h("button", { type: "button", class: `chip${m.flags.has(name) ? " on" : ""}`, title }, name);
      c.addEventListener("click", () => {
        if (m.flags.has(name)) m.flags.delete(name);
        else m.flags.add(name);
        c.classList.toggle("on");
      });
      chips.append(c);
    }
    if (format === 4 || format === 5) {
      const pk = h("input", { type: "number", min: "0", max: "15", value: m.pk, class: "map-pk", title: "protection key 0..15 (bits 62:59; CR4.PKE / PKS)", "aria-label": "protection key" });
      pk.addEventListener("change", () => (m.pk = pk.value));
      chips.append(h("label", { class: "pk" }, "PK", pk));
    }
    const del = h("button", { type: "button", class: "small ghost", title: "remove" }, "✕");
    del.addEventListener("click", () => {
      maps.splice(i, 1);
      renderBuilder();
    });
    body.append(h("tr", { "data-map": String(i) }, h("td", {}, va), h("td", {}, "→"), h("td", {}, pa), h("td", {}, size), h("td", {}, del)), h("tr", { class: "map-flags" }, h("td", { colspan: "5" }, chips)));
  });
}

/** Builds the mappings into fresh tables from CR3 on (a new Mmu, createPageTable, map), and puts the tables' words into the memory editor. */
function buildTables(): void {
  clearError();
  const mark = (i: number, cls: string) => $("builder").querySelector(`tr[data-map="${i}"] .${cls}`)?.classList.add("invalid");
  const fail = (text: string, at?: [number, string]) => {
    if (at) mark(...at);
    const err = $("error");
    err.hidden = false;
    err.replaceChildren(h("b", {}, "Cannot build the tables: "), text);
  };
  let format: ReturnType<typeof tableFormat>;
  let cr3: bigint;
  try {
    format = tableFormat();
    cr3 = parseNum(state.regs.cr3 ?? "", "CR3");
  } catch (e) {
    return fail(`${(e as Error).message} (the registers choose the table format and where the top table goes)`);
  }
  const bytes: Record<string, bigint> = { "4K": 0x1000n, "2M": 0x200000n, "4M": 0x400000n, "1G": 0x40000000n };
  const rows: { va: bigint; pa: bigint; size: string; flags: PteFlags }[] = [];
  for (const [i, m] of maps.entries()) {
    let va: bigint, pa: bigint;
    try {
      va = parseNum(m.va, `mapping ${i + 1}, linear address`);
    } catch (e) {
      return fail((e as Error).message, [i, "map-va"]);
    }
    try {
      pa = parseNum(m.pa, `mapping ${i + 1}, physical address`);
    } catch (e) {
      return fail((e as Error).message, [i, "map-pa"]);
    }
    const flags: PteFlags = {};
    for (const [name, key] of MAP_FLAGS) if (m.flags.has(name)) (flags as Record<string, boolean>)[key] = true;
    if (format === 4 || format === 5) flags.pkey = Number(m.pk) || 0;
    rows.push({ va, pa, size: m.size, flags });
  }
  const root = format === "pae" ? cr3 & 0xffffffe0n : cr3 & 0x000ffffffffff000n;
  if (root < 0x1000n) return fail("CR3 must point at a table above physical address 0 (e.g. 0x1000).");
  if (format === "pae" && (cr3 & 0xfe0n) !== 0n) return fail("under PAE paging the builder places the PDPT at a page boundary: give CR3 a 4 KiB aligned address.");
  const mmu = new Mmu();
  // The pages' frames first (4 KiB and 2 MiB pages), so that the tables are allocated around them.
  for (const r of rows) if (r.size !== "1G") for (let o = 0n; o < bytes[r.size]!; o += 0x1000n) mmu.memory.write(r.pa + o, 1, 0n);
  if (mmu.memory.frames().includes(root & ~0xfffn)) return fail(`CR3 ${hex(root)} is inside a mapped page: map the pages elsewhere or change CR3.`);
  const data = new Set(mmu.memory.frames());
  mmu.memory.setAllocBase(root & ~0xfffn);
  try {
    const pt = format === "32-bit" || format === "pae" ? mmu.createPageTable({ mode: format }) : mmu.createPageTable({ levels: format });
    if ((pt.root & ~0xfffn) !== (root & ~0xfffn)) return fail(`cannot place the top table at CR3 ${hex(root)}.`);
    for (const [i, r] of rows.entries()) {
      try {
        if (pt instanceof LegacyPageTable) pt.map(r.va, r.pa, bytes[r.size]!, { size: r.size as "4K" | "4M" | "2M", flags: r.flags });
        else pt.map(r.va, r.pa, bytes[r.size]!, { size: r.size as "4K" | "2M" | "1G", flags: r.flags });
      } catch (e) {
        return fail(`mapping ${i + 1}: ${(e as Error).message}`, [i, "map-va"]);
      }
    }
  } catch (e) {
    return fail(e instanceof X86MmuError ? e.message : String(e));
  }
  const tables = mmu.memory.frames().filter((f) => !data.has(f));
  for (const [i, r] of rows.entries()) {
    const clash = tables.find((t) => t >= r.pa && t < r.pa + bytes[r.size]!);
    if (clash !== undefined) return fail(`a page table went to ${hex(clash)}, inside the page of mapping ${i + 1}: tables are placed from CR3 upward, so map pages away from there.`, [i, "map-pa"]);
  }
  const words: Word[] = [];
  for (const f of tables.sort((a, b) => (a < b ? -1 : 1))) {
    const q = new BigUint64Array(mmu.memory.readBytes(f, 4096).slice().buffer);
    q.forEach((w, k) => {
      if (w !== 0n) words.push({ paddr: hex(f + 8n * BigInt(k)), value: hex(w), count: 1 });
    });
  }
  state.words = words;
  state.name = `built: ${maps.map((m) => `${m.va}=${m.pa} ${m.size}`).join(", ")}`;
  $("scenario-name").textContent = `${state.name} (page tables made by PageTable.map; data pages read as 0)`;
  renderMemory();
  const first = rows[0];
  if (first) $<HTMLInputElement>("va").value = hex(first.va);
  if (state.seq.on) state.seq = { on: true, items: [accessOfForm()], pos: 1 };
  translate();
}

// ---- Start ----

async function start(): Promise<void> {
  await loadCore(wasmUrl);
  const sel = $<HTMLSelectElement>("example");
  examples.forEach((e, i) => sel.append(h("option", { value: String(i), title: e.json.name }, e.label)));
  const first = Math.max(0, examples.findIndex((e) => e.label === "user-write-readonly.json"));
  sel.value = String(first);
  sel.addEventListener("change", () => {
    loadExample(Number(sel.value));
    translate();
  });
  for (const id of ["op", "cpl"]) $(id).addEventListener("change", syncAccessFields);
  $("translate").addEventListener("click", () => (state.seq.on ? insertItem(accessOfForm()) : translate()));
  $("va").addEventListener("keydown", (e) => {
    if ((e as KeyboardEvent).key === "Enter") $("translate").click();
  });
  $("seq-on").addEventListener("change", () => {
    const on = $<HTMLInputElement>("seq-on").checked;
    state.seq = on ? { on, items: state.accesses.some(isStep) ? [...state.accesses] : [accessOfForm(), ...state.accesses.filter((x) => !isStep(x) && JSON.stringify(x) !== JSON.stringify(accessOfForm()))], pos: 1 } : { on, items: [], pos: 0 };
    translate();
  });
  $("add-map").addEventListener("click", () => {
    const last = maps[maps.length - 1];
    maps.push({ va: last ? hex(BigInt(last.va) + 0x1000n) : "0x400000", pa: last ? hex(BigInt(last.pa) + 0x1000n) : "0x5000", size: "4K", flags: new Set(["RW"]), pk: "0" });
    renderBuilder();
  });
  $("build").addEventListener("click", buildTables);
  $("add-word").addEventListener("click", () => {
    const last = state.words[state.words.length - 1];
    state.words.push({ paddr: last ? hex(BigInt(last.paddr) + 8n * BigInt(last.count)) : "0x1000", value: "0x0", count: 1 });
    renderMemory();
  });
  loadExample(first);
  renderBuilder();
  translate();
  initExplorer($("image-card"));
  initCpus($("cpus-card"));
  initQuiz($("quiz"), {
    load: (json) => {
      $<HTMLSelectElement>("example").value = "";
      loadScenario(json);
    },
    reveal: (a) => {
      setAccess(a);
      translate();
    },
    hideAnswer: (hidden) => {
      $("result").hidden = hidden;
      $("tlb-card").hidden = hidden;
      $("presets").hidden = hidden;
    },
  });
}

start().catch((e: unknown) => {
  const err = $("error");
  err.hidden = false;
  err.textContent = `Could not start: ${(e as Error).message}`;
});
