/**
 * Two CPUs over one memory (issue 15): the lesson of SDM 4.10.5 played step
 * by step on x86mmu's Machine. Both CPUs cache a translation; CPU 0 changes
 * the PTE and invalidates its own TLB; CPU 1 keeps using its stale entry
 * until CPU 0's shootdown reaches it. Each CPU's TLB is drawn after every
 * step. The CPUs run in turn in this thread (the worker-free Machine), so
 * the page needs no SharedArrayBuffer or cross-origin isolation.
 *
 * "Run it on two threads" plays the same lesson with CPU 1 in a Web Worker
 * (SharedMachine over a shared WebAssembly.Memory): it needs a cross-origin
 * isolated page, and says so, falling back to the one-thread lesson, where
 * the page is not.
 */

import { Machine, SharedMachine, loadThreadsCore, LONG_MODE, PageFault, type Shootdown, type TlbEntry } from "../src/browser.js";
import threadsUrl from "../build/core.threads.wasm?url";

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

  const threadsBtn = el("button", { id: "cpus-threads", type: "button", class: "small" }, "Run it on two threads");
  const threadsLog = el("ol", { id: "cpus-threads-log", class: "cpus-log" });
  threadsBtn.addEventListener("click", () => {
    threadsBtn.disabled = true;
    threadsLog.replaceChildren();
    const say = (text: string) => threadsLog.append(el("li", {}, text));
    runOnThreads(say)
      .catch((e) => say(`stopped: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => (threadsBtn.disabled = false));
  });

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
    el("div", { class: "row" }, threadsBtn),
    threadsLog,
  );
  start();
}

/**
 * The lesson on real threads: CPU 0 in this page, CPU 1 in a Web Worker,
 * over a SharedMachine. Without cross-origin isolation there is no
 * SharedArrayBuffer: it says so and leaves the one-thread lesson above.
 */
async function runOnThreads(say: (text: string) => void): Promise<void> {
  if (typeof crossOriginIsolated === "undefined" || !crossOriginIsolated || typeof SharedArrayBuffer === "undefined") {
    say("This page is not cross-origin isolated (it needs the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp), so SharedArrayBuffer is not available: the lesson above, with both CPUs in one thread, is the fallback.");
    return;
  }
  await loadThreadsCore(threadsUrl);
  const machine = new SharedMachine({ cpus: 2 });
  const cpu0 = machine.attach(0);
  const pt = cpu0.mmu.createPageTable();
  pt.map(VA, 0x10000n, 0x1000n, { flags: { writable: true, user: true } });
  cpu0.mmu.loadState({ ...LONG_MODE, cr3: pt.root });
  const worker = new Worker(new URL("./cpu-worker.ts", import.meta.url), { type: "module" });
  const ask = (msg: unknown) =>
    new Promise<{ pa?: bigint; took?: number; error?: string }>((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.postMessage(msg);
    });
  try {
    const a = await ask({ handle: machine.handle, cr3: pt.root });
    if (a.error) throw new Error(a.error);
    const t1 = await ask({ translate: VA });
    say(`CPU 1 (a Web Worker) reads ${hex(VA)}: physical ${hex(t1.pa!)}`);
    pt.unmap(VA, 0x1000n);
    pt.map(VA, 0x20000n, 0x1000n, { flags: { writable: true, user: true } });
    cpu0.mmu.invlpg(VA);
    say(`CPU 0 (this page) remaps ${hex(VA)} to 0x20000 and invalidates its own entry: CPU 0 reads ${hex(cpu0.mmu.translate(VA))}`);
    const t2 = await ask({ translate: VA });
    say(`CPU 1 reads again: physical ${hex(t2.pa!)}, its stale entry`);
    const ticket = cpu0.shootdown([1], { kind: "invlpg", va: VA });
    say(`CPU 0 posts INVLPG ${hex(VA)} to CPU 1: done ${ticket.done}`);
    const t3 = await ask({ translate: VA });
    say(`CPU 1's next access takes ${t3.took} invalidation, then walks: physical ${hex(t3.pa!)}; acknowledged: ${await ticket.waitAsync(5000)}`);
    await ask({});
  } finally {
    worker.terminate();
  }
}
