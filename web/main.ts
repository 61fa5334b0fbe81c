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
import type { AccessResult, NestedWalk, Scenario, WalkStep } from "../src/scenario/types.js";
import { addressFields, allowsWords, checksOf, splitWalks } from "../src/cli/explain.js";
import { flagNames, targetOf, errorCodeFields, shapeOf, SIZE_WORDS, type Shape } from "../src/arch/rules.js";
import { describeExitInfo1 } from "../src/base/errors.js";
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
  /** The host's EFER.NXE for the nested walk (`cpu.npt.nxe`), kept from the example. */
  nptNxe: true,
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
      nestedPick.key = nestedPick.entry = undefined;
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
    cpu: {
      cr0: regs.cr0, cr3: regs.cr3, cr4: regs.cr4, efer: regs.efer, pkru: regs.pkru, pkrs: regs.pkrs, maxphyaddr: Number(regs.maxphyaddr),
      ...(regs.ncr3?.trim() ? { npt: { ncr3: regs.ncr3.trim(), nxe: state.nptNxe } } : {}),
    },
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
    labels.append(
      h("div", { class: cls, style: `flex: ${width} ${width} 0`, "data-field": f.name }, h("b", {}, f.name === "sign" ? "sign ext." : f.name), h("small", {}, `${f.hi}:${f.lo}`), h("span", { class: "val" }, value)),
    );
  }
  const mode = v.shape === "32-bit" ? "32-bit paging" : v.shape === "pae" ? "PAE paging" : v.la57 ? "5-level paging" : "4-level paging";
  return h(
    "div",
    { class: "card" },
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

function drawLevel(step: WalkStep, v: View, fromCr3: boolean): HTMLElement {
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
        h("td", { class: "mono" }, hex(step.table + size * BigInt(i))),
        h("td", { class: "mono" }, hex(value)),
        h("td", {}, flags.length ? flags.join(" ") : "not present"),
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

function renderResult(s: Scenario, r: AccessResult, changed: { paddr: bigint; value: bigint }[]): void {
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
  const names = shape === "32-bit" ? ["PDE", "PTE"] : shape === "pae" ? ["PDPTE", "PDE", "PTE"] : la57 ? ["PML5", "PML4", "PDPT", "PD", "PT"] : ["PML4", "PDPT", "PD", "PT"];
  if (r.nestedWalk?.length) out.push(drawNested(r.nestedWalk, names, r, v));

  walks.forEach((walk, w) => {
    const card = h("div", { class: "card walk" });
    const next = ((a.va >> 12n) + 1n) << 12n;
    const title = w === 0 ? `${nested ? "Guest walk" : "Walk"}` : `Second walk: the access crosses into the page at ${hex(shape === "long" ? next : next & 0xffffffffn)}`;
    card.append(h("h2", {}, title, nested ? h("span", { class: "note" }, " · guest tables at guest-physical addresses (the grid above shows how each was reached)") : null));
    const chain = h("div", { class: "chain" });
    walk.forEach((step, i) => {
      if (i > 0) chain.append(h("div", { class: "arrow" }, "→"));
      chain.append(drawLevel(step, v, i === 0));
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
