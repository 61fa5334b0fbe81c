/**
 * The page-walk explorer: edit registers and physical memory (or load one of
 * examples/), pick an access, and see the walk the WebAssembly core made,
 * drawn level by level: the address bits coloured by index, each table with
 * the selected entry highlighted, the permission checks, and the physical
 * address or the page fault with its error code bit by bit.
 *
 * Plain TypeScript and DOM. It imports only the browser entry of x86mmu
 * (src/browser.ts) and the words of the trace, never src/node.ts.
 */

import wasmUrl from "../build/core.wasm?url";
import { loadCore, CoreEngine, parseScenario, ScenarioError } from "../src/browser.js";
import type { AccessResult, Scenario, WalkStep } from "../src/scenario/types.js";
import { addressFields, allowsWords, checksOf, splitWalks } from "../src/cli/explain.js";
import { flagNames, targetOf, errorCodeFields, SIZE_WORDS } from "../src/arch/rules.js";
import { examples, type ScenarioJson } from "./examples.js";

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
  { key: "cr3", label: "CR3", bits: [], note: "physical address of the top table" },
  {
    key: "cr4",
    label: "CR4",
    bits: [
      ["PAE", 5, "physical address extension"], ["PGE", 7, "global pages"], ["LA57", 12, "5-level paging"], ["PCIDE", 17, "process-context IDs"],
      ["SMEP", 20, "supervisor-mode execution prevention"], ["SMAP", 21, "supervisor-mode access prevention"], ["PKE", 22, "protection keys (user pages)"], ["PKS", 24, "protection keys (supervisor pages)"],
    ],
  },
  { key: "efer", label: "EFER", bits: [["LME", 8, "long mode enable"], ["LMA", 10, "long mode active"], ["NXE", 11, "execute-disable bit enabled"]] },
  { key: "pkru", label: "PKRU", bits: [], note: "AD/WD bit pairs for user-page keys" },
  { key: "pkrs", label: "IA32_PKRS", bits: [], note: "AD/WD bit pairs for supervisor-page keys" },
  { key: "maxphyaddr", label: "MAXPHYADDR", bits: [], note: "physical-address width, 36..52" },
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
};

const engine = { current: undefined as CoreEngine | undefined };

// ---- Loading an example into the editors ----

function loadExample(i: number): void {
  const { json } = examples[i]!;
  state.name = json.name;
  const cpu = json.cpu;
  const str = (v: string | number | undefined, d: string) => (v === undefined ? d : String(v));
  state.regs = {
    cr0: str(cpu.cr0, "0x80010033"), cr3: str(cpu.cr3, "0x1000"), cr4: str(cpu.cr4, "0x20"), efer: str(cpu.efer, "0xd00"),
    pkru: str(cpu.pkru, "0x0"), pkrs: str(cpu.pkrs, "0x0"), maxphyaddr: str(cpu.maxphyaddr, "52"),
  };
  state.words = [];
  for (const r of json.memory) {
    if (r.qwords) {
      r.qwords.forEach((q, k) => {
        if (BigInt(q) !== 0n) state.words.push({ paddr: hex(BigInt(r.paddr) + 8n * BigInt(k)), value: q, count: 1 });
      });
    } else state.words.push({ paddr: r.paddr, value: r.fill ?? "0x0", count: r.count ?? 1 });
  }
  state.accesses = json.accesses;
  $("scenario-name").textContent = json.name;
  renderRegisters();
  renderMemory();
  renderPresets();
  const a = json.accesses.find((x) => x.op === "write") ?? json.accesses[0];
  if (a) setAccess(a);
}

function setAccess(a: ScenarioJson["accesses"][number]): void {
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
          translate();
        });
        chips.append(chip);
      }
      if (r.note) chips.append(h("span", { class: "note" }, r.note));
    };
    input.addEventListener("change", () => {
      state.regs[r.key] = input.value.trim();
      drawChips();
      translate();
    });
    drawChips();
    box.append(h("div", { class: "reg" }, h("label", { for: `reg-${r.key}` }, r.label), input, chips));
  }
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
    const size = a.op === "fetch" ? "" : ` ·${a.size ?? 1}`;
    const b = h("button", { type: "button", class: "chip preset", "data-preset": String(i) }, `${a.op} ${a.va}${size} · CPL ${a.cpl ?? 0}${a.ac ? " · AC" : ""}`);
    b.addEventListener("click", () => {
      setAccess(a);
      translate();
    });
    box.append(b);
  });
}

// ---- Running the access on the core ----

function buildScenario(): Scenario {
  const regs = state.regs;
  const access: Record<string, unknown> = {
    va: $<HTMLInputElement>("va").value.trim(),
    op: $<HTMLSelectElement>("op").value,
    cpl: Number($<HTMLSelectElement>("cpl").value),
    ac: $<HTMLInputElement>("ac").checked,
  };
  if (access.op !== "fetch") access.size = Number($<HTMLSelectElement>("size").value);
  if (access.op === "write") access.value = $<HTMLInputElement>("value").value.trim();
  const json = {
    name: state.name || "edited scenario",
    cpu: { cr0: regs.cr0, cr3: regs.cr3, cr4: regs.cr4, efer: regs.efer, pkru: regs.pkru, pkrs: regs.pkrs, maxphyaddr: Number(regs.maxphyaddr) },
    memory: state.words.map((w) => (w.count > 1 ? { paddr: w.paddr, fill: w.value, count: w.count } : { paddr: w.paddr, qwords: [w.value] })),
    accesses: [access],
  };
  return parseScenario(json);
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

function translate(): void {
  const err = $("error");
  err.hidden = true;
  let scenario: Scenario;
  try {
    scenario = buildScenario();
    engine.current ??= new CoreEngine();
    const run = engine.current.run(scenario, { trace: true });
    renderResult(scenario, run.results[0]!, run.memory);
  } catch (e) {
    err.hidden = false;
    err.textContent = e instanceof ScenarioError || e instanceof Error ? e.message : String(e);
    $("result").replaceChildren();
  }
}

// ---- Drawing the walk ----

const FIELD_CLASS: Record<string, string> = { sign: "f-sign", PML5: "f-pml5", PML4: "f-pml4", PDPT: "f-pdpt", PD: "f-pd", PT: "f-pt", offset: "f-offset" };

function drawAddress(va: bigint, la57: boolean, pageLevel: string | undefined): HTMLElement {
  const fields = addressFields(va, la57);
  const bits = h("div", { class: "bits" });
  const labels = h("div", { class: "bit-labels" });
  for (const f of fields) {
    // A 2 MiB or 1 GiB page makes the lower indices part of the offset.
    const inOffset = pageLevel !== undefined && (pageLevel === "PD" ? f.name === "PT" : pageLevel === "PDPT" ? f.name === "PD" || f.name === "PT" : false);
    const cls = `field ${FIELD_CLASS[f.name]}${inOffset ? " f-offset" : ""}`;
    const width = f.hi - f.lo + 1;
    const group = h("div", { class: cls, style: `flex: ${width} ${width} 0` });
    for (let b = f.hi; b >= f.lo; b--) group.append(h("span", { class: "bit", title: `bit ${b}` }, bit(va, b) ? "1" : "0"));
    bits.append(group);
    const value = f.name === "sign" || f.name === "offset" ? hex(f.value) : `${f.value} · ${hex(f.value)}`;
    labels.append(
      h("div", { class: cls, style: `flex: ${width} ${width} 0` }, h("b", {}, f.name === "sign" ? "sign ext." : f.name), h("small", {}, `${f.hi}:${f.lo}`), h("span", { class: "val" }, value)),
    );
  }
  return h("div", { class: "card" }, h("h2", {}, "Linear address ", h("code", { id: "va-hex" }, hex(va))), bits, labels);
}

const ENTRY_BITS: [string, number, string][] = [
  ["P", 0, "present"], ["RW", 1, "read/write"], ["US", 2, "user/supervisor"], ["PWT", 3, "write-through"], ["PCD", 4, "cache disable"],
  ["A", 5, "accessed"], ["D", 6, "dirty"], ["PS", 7, "page size (PAT in a PTE)"], ["G", 8, "global"], ["XD", 63, "execute-disable"],
];

function flipEntryBit(paddr: bigint, n: number, current: bigint): void {
  const next = hex(current ^ (1n << BigInt(n)));
  const w = state.words.find((x) => x.count === 1 && BigInt(x.paddr) === paddr);
  if (w) w.value = next;
  else state.words.push({ paddr: hex(paddr), value: next, count: 1 });
  renderMemory();
  translate();
}

function drawLevel(step: WalkStep, mem: Map<bigint, bigint>, fromCr3: boolean): HTMLElement {
  const cls = FIELD_CLASS[step.level]!;
  // The selected entry, and the other non-zero entries of the table nearest to it.
  const others: number[] = [];
  for (let i = 0; i < 512; i++) if (i !== step.index && (mem.get(step.table + 8n * BigInt(i)) ?? 0n) !== 0n) others.push(i);
  others.sort((a, b) => Math.abs(a - step.index) - Math.abs(b - step.index));
  const shown = [step.index, ...others.slice(0, 4)].sort((a, b) => a - b);
  const rows = h("tbody");
  let prev = -1;
  for (const i of shown) {
    if (i > prev + 1) rows.append(h("tr", { class: "gap" }, h("td", { colspan: "4" }, `⋯ ${i - prev - 1} more entr${i - prev - 1 === 1 ? "y" : "ies"}`)));
    const sel = i === step.index;
    const value = sel ? step.entry : (mem.get(step.table + 8n * BigInt(i)) ?? 0n);
    const flags = flagNames(step.level, value);
    rows.append(
      h(
        "tr",
        { class: sel ? `selected ${cls}` : "" },
        h("td", { class: "idx" }, `[${i}]`),
        h("td", { class: "mono" }, hex(step.table + 8n * BigInt(i))),
        h("td", { class: "mono" }, hex(value)),
        h("td", {}, flags.length ? flags.join(" ") : "not present"),
      ),
    );
    prev = i;
  }
  if (prev < 511) rows.append(h("tr", { class: "gap" }, h("td", { colspan: "4" }, `⋯ ${511 - prev} more entr${511 - prev === 1 ? "y" : "ies"}`)));

  // The selected entry's bits, each a button that flips it in memory.
  const chips = h("div", { class: "chips entry-bits" });
  for (const [name, n, title] of ENTRY_BITS) {
    const label = name === "PS" && step.level === "PT" ? "PAT" : name;
    const on = bit(step.entry, n);
    const b = h("button", { type: "button", class: `chip${on ? " on" : ""}`, title: `bit ${n}: ${title} — click to flip it in memory` }, label);
    b.addEventListener("click", () => flipEntryBit(step.entryAddr, n, step.entry));
    chips.append(b);
  }
  const key = Number((step.entry >> 59n) & 0xfn);
  if (key) chips.append(h("span", { class: "chip on static" }, `PK=${key}`));
  const t = targetOf(step.level, step.entry);
  const present = bit(step.entry, 0);
  const leaf = t?.kind === "page";
  const detail = h(
    "div",
    { class: "entry-detail" },
    chips,
    present ? h("div", { class: "allows" }, `allows ${allowsWords(step.allows)}${leaf ? " · leaf" : ""}`) : h("div", { class: "allows bad" }, "not present: P=0, every other bit is ignored"),
    t && h("div", { class: "target" }, t.kind === "table" ? `→ ${t.level} table at ${hex(t.paddr)}` : `→ ${SIZE_WORDS[t.size]} page at ${hex(t.paddr)}`),
  );
  return h(
    "div",
    { class: `level ${cls}`, "data-level": step.level },
    h("div", { class: "level-head" }, h("span", { class: "tag" }, step.level), ` table at ${hex(step.table)}`, fromCr3 ? h("span", { class: "note" }, " (CR3)") : null, h("span", { class: "note" }, ` · entry [${step.index}] at ${hex(step.entryAddr)}`)),
    h("table", { class: "entries" }, rows),
    detail,
    step.stop ? h("div", { class: "stop" }, h("b", {}, "The walk stops here: "), step.stop) : null,
  );
}

function drawResult(r: AccessResult, la57: boolean): HTMLElement {
  if (r.ok) {
    return h(
      "div",
      { class: "card outcome ok", id: "outcome" },
      h("div", { class: "big" }, "✓ physical address ", h("code", { id: "pa" }, hex(r.pa))),
      r.value !== undefined ? h("div", {}, "value read ", h("code", {}, hex(r.value))) : null,
    );
  }
  if (r.fault === "GP") {
    const top = la57 ? 56 : 47;
    return h(
      "div",
      { class: "card outcome bad", id: "outcome" },
      h("div", { class: "big" }, "✗ #GP(0) general-protection fault"),
      h("div", {}, `The address is not canonical: bits 63:${top + 1} must all equal bit ${top}. No walk is made.`),
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
    h("div", { class: "big" }, "✗ #PF page fault, error code ", h("code", { id: "error-code" }, hex(r.errorCode)), h("span", { class: "note" }, "  CR2 = "), h("code", { id: "cr2" }, hex(r.cr2))),
    grid,
  );
}

function renderResult(s: Scenario, r: AccessResult, changed: { paddr: bigint; value: bigint }[]): void {
  const a = s.accesses[0]!;
  const la57 = bit(s.cpu.cr4, 12);
  const walks = splitWalks(r.walk ?? [], la57);
  const checks = checksOf(a, r, s.cpu);
  const mem = memoryMap(s);
  const last = walks[walks.length - 1];
  const leaf = last?.[last.length - 1];
  const pageLevel = leaf && targetOf(leaf.level, leaf.entry)?.kind === "page" ? leaf.level : undefined;
  const out: HTMLElement[] = [drawAddress(a.va, la57, pageLevel)];

  walks.forEach((walk, w) => {
    const card = h("div", { class: "card walk" });
    card.append(h("h2", {}, w === 0 ? "Walk" : `Second walk: the access crosses into the page at ${hex(((a.va >> 12n) + 1n) << 12n)}`));
    const chain = h("div", { class: "chain" });
    walk.forEach((step, i) => {
      if (i > 0) chain.append(h("div", { class: "arrow" }, "→"));
      chain.append(drawLevel(step, mem, i === 0));
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
  out.push(drawResult(r, la57));
  if (changed.length) {
    out.push(
      h(
        "div",
        { class: "card changes" },
        h("h3", {}, "Memory written by the access"),
        h("div", { class: "mono words" }, ...changed.map((m) => h("span", {}, `${hex(m.paddr)} = ${hex(m.value)}`))),
        h("p", { class: "note" }, "The walk sets accessed (A) flags, a write sets dirty (D); the editors keep the state before the access."),
      ),
    );
  }
  $("result").replaceChildren(...out);
  document.body.dataset.ready = "true";
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
  $("translate").addEventListener("click", translate);
  $("va").addEventListener("keydown", (e) => {
    if ((e as KeyboardEvent).key === "Enter") translate();
  });
  $("add-word").addEventListener("click", () => {
    const last = state.words[state.words.length - 1];
    state.words.push({ paddr: last ? hex(BigInt(last.paddr) + 8n * BigInt(last.count)) : "0x1000", value: "0x0", count: 1 });
    renderMemory();
  });
  loadExample(first);
  translate();
}

start().catch((e: unknown) => {
  const err = $("error");
  err.hidden = false;
  err.textContent = `Could not start: ${(e as Error).message}`;
});
