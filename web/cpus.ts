/**
 * Two CPUs over one memory (issue 15): the lesson of SDM 4.10.5 played step
 * by step on x86mmu's Machine. Both CPUs cache a translation; CPU 0 changes
 * the PTE and invalidates its own TLB; CPU 1 keeps using its stale entry
 * until CPU 0's shootdown reaches it. Each CPU's TLB is drawn after every
 * step. The CPUs run in turn in this thread (the worker-free Machine), so
 * the page needs no SharedArrayBuffer or cross-origin isolation.
 */

import { Machine, LONG_MODE, PageFault, type Shootdown, type TlbEntry } from "../src/browser.js";

const hex = (v: bigint): string => "0x" + v.toString(16);
const VA = 0x400000n;

interface Step {
  label: string;
  run(m: Machine, state: { ticket?: Shootdown }): string;
}

function readOn(m: Machine, cpu: number): string {
  try {
    const pa = m.cpu(cpu).mmu.translate(VA);
    return `CPU ${cpu} reads ${hex(VA)}: physical ${hex(pa)}`;
  } catch (e) {
    if (e instanceof PageFault) return `CPU ${cpu} reads ${hex(VA)}: #PF, error code ${hex(BigInt(e.errorCode))}`;
    throw e;
  }
}

const STEPS: Step[] = [
  { label: "CPU 0 reads", run: (m) => readOn(m, 0) },
  { label: "CPU 1 reads", run: (m) => readOn(m, 1) },
  {
    label: "CPU 0 remaps the page",
    run: (m) => {
      const pt = m.cpu(0).mmu.activePageTable();
      pt.unmap(VA, 0x1000n);
      pt.map(VA, 0x20000n, 0x1000n, { flags: { writable: true, user: true } });
      return `CPU 0 writes the PTE: ${hex(VA)} now maps 0x20000, and invalidates its own TLB entry (as INVLPG); CPU 1 is not told`;
    },
  },
  {
    label: "CPU 1 reads again",
    run: (m) => {
      const r = readOn(m, 1);
      return `${r}: the stale translation from its TLB (SDM 4.10.5: another processor's change is not seen until this one invalidates)`;
    },
  },
  {
    label: "CPU 0 sends a shootdown",
    run: (m, state) => {
      state.ticket = m.shootdown([1], { kind: "invlpg", va: VA });
      return `CPU 0 posts INVLPG ${hex(VA)} to CPU 1 (the IPI) and waits: done ${state.ticket.done}, waiting for CPU ${state.ticket.waiting.join(", ")}`;
    },
  },
  {
    label: "CPU 1 reads again",
    run: (m, state) => {
      const r = readOn(m, 1);
      return `CPU 1 takes the interrupt first, performs the INVLPG, then walks: ${r.replace(/^CPU 1 reads [^:]*: /, "")}; the shootdown is done: ${state.ticket?.done}`;
    },
  },
];

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...kids);
  return e;
}

/** Builds the two-CPU card into `root`. */
export function initCpus(root: HTMLElement): void {
  let m: Machine;
  let state: { ticket?: Shootdown } = {};
  let next = 0;
  const log = el("ol", { id: "cpus-log", class: "cpus-log" });
  const tlbs = el("div", { class: "cpus-tlbs" });
  const stepBtn = el("button", { id: "cpus-step", type: "button", class: "small primary" }, "");
  const reset = el("button", { id: "cpus-reset", type: "button", class: "small" }, "Start over");

  const tlbTable = (cpu: number): HTMLElement => {
    // peek: look at the TLB without making the CPU take its pending shootdown.
    const entries: TlbEntry[] = m.cpu(cpu).peek((mmu) => mmu.tlbEntries());
    const pending = m.cpu(cpu).pending;
    const stale = (e: TlbEntry) => e.linear === VA && e.frame !== 0x20000n && next > 2;
    return el(
      "div",
      { class: "cpus-cpu", "data-cpu": String(cpu) },
      el("h3", {}, `CPU ${cpu}`),
      el(
        "table",
        { class: "cpus-tlb" },
        el("thead", {}, el("tr", {}, el("th", {}, "page"), el("th", {}, "frame"), el("th", {}, ""))),
        el(
          "tbody",
          {},
          ...(entries.length
            ? entries.map((e) => el("tr", { class: stale(e) ? "stale" : "" }, el("td", {}, hex(e.linear)), el("td", {}, hex(e.frame)), el("td", {}, stale(e) ? "stale" : "")))
            : [el("tr", {}, el("td", { colspan: "3", class: "note" }, "empty"))]),
        ),
      ),
      el("p", { class: "note cpus-pending" }, pending.length ? `pending: ${pending.map((p) => (p.kind === "invlpg" ? `INVLPG ${hex(BigInt(p.va))}` : p.kind)).join(", ")}` : "no pending invalidation"),
    );
  };

  const render = (): void => {
    tlbs.replaceChildren(tlbTable(0), tlbTable(1));
    stepBtn.textContent = next < STEPS.length ? `Step ${next + 1}: ${STEPS[next]!.label}` : "Done";
    stepBtn.disabled = next >= STEPS.length;
  };

  const start = (): void => {
    m = new Machine({ cpus: 2 });
    const pt = m.cpu(0).mmu.createPageTable();
    pt.map(VA, 0x10000n, 0x1000n, { flags: { writable: true, user: true } });
    for (const c of m.cpus) c.mmu.loadState({ ...LONG_MODE, cr3: pt.root });
    state = {};
    next = 0;
    log.replaceChildren();
    render();
  };

  stepBtn.addEventListener("click", () => {
    const s = STEPS[next];
    if (!s) return;
    const text = s.run(m, state);
    next++;
    log.append(el("li", {}, text));
    render();
  });
  reset.addEventListener("click", start);

  root.append(
    el("h2", {}, "Two CPUs ", el("span", { class: "note" }, "(a stale TLB entry and the shootdown that removes it: SDM 4.10.5)")),
    el(
      "p",
      { class: "note" },
      `Both CPUs map ${hex(VA)} to 0x10000 through the same tables. The CPUs run in turn in this thread (x86mmu's Machine), so no SharedArrayBuffer or cross-origin isolation is needed${typeof crossOriginIsolated !== "undefined" && crossOriginIsolated ? "" : " (this page is not cross-origin isolated)"}.`,
    ),
    el("div", { class: "row" }, stepBtn, reset),
    tlbs,
    log,
  );
  start();
}
