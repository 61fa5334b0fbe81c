/**
 * The memory-image explorer: a real kernel's page tables in the page. Load
 * the bundled Linux sample (test/fixtures/linux: Debian 6.1 under QEMU 7.2)
 * or an image file (sparse, raw pmemsave or dump-guest-memory ELF; .gz and
 * .xz decompressed here) with its registers (JSON, the sample's JSON or QEMU's
 * info registers text), and see its address space: a picture of the top-level
 * table's 512 slots (user half, kernel half, named where Linux's x86-64 layout
 * fixes them), zoomed into one slot as the ranges of equal effective rights
 * that QEMU's `info mem` prints; click a range to see the walk of its first
 * address, explained as `x86mmu explain` does.
 */

import sampleImageUrl from "../test/fixtures/linux/frames-4l-1.bin.xz?url";
import sampleRegsUrl from "../test/fixtures/linux/sample-4l-1.json.xz?url";
import { Mmu, CoreEngine, loadImage, compressionOf, pageLeaves, parseRegistersText, X86MmuError, type PageLeaves } from "../src/browser.js";
import { explainAccess, style } from "../src/cli/explain.js";
import type { Access } from "../src/scenario/types.js";

const hex = (v: bigint): string => "0x" + v.toString(16);
const hex16 = (v: bigint): string => v.toString(16).padStart(16, "0");

/** A run of consecutive pages with the same effective user/write rights (QEMU's info mem merging). */
export interface Range {
  start: bigint;
  end: bigint;
  user: boolean;
  writable: boolean;
  pages: number;
  sizes: Set<string>;
}

/** The ranges of `walk`, merged as QEMU's info mem merges them, with canonical addresses. */
export function rangesOf(walk: PageLeaves): Range[] {
  const out: Range[] = [];
  let cur: Range | undefined;
  const bytes: Record<string, bigint> = { "4K": 0x1000n, "2M": 0x200000n, "4M": 0x400000n, "1G": 0x40000000n };
  for (const leaf of walk.leaves) {
    const user = leaf.flags.user;
    const writable = leaf.flags.writable;
    if (!cur || leaf.va !== cur.end || user !== cur.user || writable !== cur.writable) {
      cur = { start: leaf.va, end: leaf.va, user, writable, pages: 0, sizes: new Set() };
      out.push(cur);
    }
    cur.end = leaf.va + bytes[leaf.pageSize]!;
    cur.pages++;
    cur.sizes.add(leaf.pageSize);
  }
  return out;
}

/** What Linux's x86-64 layout (Documentation/arch/x86/x86_64/mm.rst, 4-level) puts in a top-level slot; KASLR moves the direct map, vmalloc and vmemmap within the kernel half. */
export function slotName(slot: number, levels: number): string {
  if (levels !== 4) return slot < 256 ? "user half" : "kernel half";
  if (slot < 256) return "user half";
  if (slot === 256) return "kernel half: guard hole, LDT remap";
  if (slot >= 273 && slot < 401) return "kernel half: direct map, vmalloc or vmemmap (their KASLR region)";
  if (slot === 508) return "kernel half: cpu_entry_area";
  if (slot === 510) return "kernel half: ESPFIX stacks";
  if (slot === 511) return "kernel half: kernel text, modules, fixmap";
  return "kernel half";
}

interface Loaded {
  engine: CoreEngine;
  walk: PageLeaves;
  ranges: Range[];
  /** Ranges by top-level slot. */
  bySlot: Map<number, Range[]>;
  name: string;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...kids: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...kids);
  return e;
}

/** Bytes of a file or URL, decompressed when their content is gzip or xz. */
async function decompressed(bytes: Uint8Array): Promise<Uint8Array> {
  const kind = compressionOf(bytes);
  if (kind === undefined) return bytes;
  let stream: ReadableStream<Uint8Array>;
  if (kind === "gzip") stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream("gzip"));
  else {
    const { XzReadableStream } = await import("xz-decompress");
    stream = new XzReadableStream(new Blob([bytes as Uint8Array<ArrayBuffer>]).stream());
  }
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`cannot fetch ${url}: ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/** Loads an image and its registers into a fresh engine and lists its pages. */
export function loadInto(name: string, image: Uint8Array, registersText: string): Loaded {
  const regs = parseRegistersText(registersText);
  const engine = new CoreEngine();
  const mmu: Mmu = engine.mmu;
  if (regs.maxPhyAddr !== undefined) mmu.maxPhyAddr = regs.maxPhyAddr;
  loadImage(mmu.memory, image);
  mmu.loadState(regs);
  const walk = pageLeaves(mmu);
  const ranges = rangesOf(walk);
  const shift = BigInt(12 + 9 * (walk.levels - 1));
  const bySlot = new Map<number, Range[]>();
  for (const r of ranges) {
    const slot = Number((r.start >> shift) & 511n);
    let list = bySlot.get(slot);
    if (!list) bySlot.set(slot, (list = []));
    list.push(r);
  }
  return { engine, walk, ranges, bySlot, name };
}

/** Builds the explorer into `root`. */
export function initExplorer(root: HTMLElement): void {
  const sample = el("button", { id: "img-sample", type: "button", class: "small primary" }, "Load the Linux sample");
  const file = el("input", { id: "img-file", type: "file" });
  const regsFile = el("input", { id: "img-regs", type: "file" });
  const load = el("button", { id: "img-load", type: "button", class: "small" }, "Load files");
  const status = el("p", { id: "img-status", class: "note" }, "A memory image's page tables: the bundled Linux sample (Debian 6.1 under QEMU 7.2, 4-level paging), or an image file (sparse, raw pmemsave, dump-guest-memory ELF; .gz, .xz) with a registers file (JSON, or QEMU's info registers).");
  const map = el("div", { id: "img-map", class: "img-map" });
  const ranges = el("div", { id: "img-ranges", class: "img-ranges" });
  const walkOut = el("pre", { id: "img-walk", class: "img-walk" });
  walkOut.hidden = true;
  root.append(
    el("h2", {}, "Memory image ", el("span", { class: "note" }, "(a real kernel's address space, as x86mmu map shows it)")),
    el("div", { class: "row img-row" }, sample, el("label", {}, "image ", file), el("label", {}, "registers ", regsFile), load),
    status,
    map,
    ranges,
    walkOut,
  );

  let loaded: Loaded | undefined;

  const showWalk = (r: Range): void => {
    if (!loaded) return;
    const a: Access = { op: "read", va: r.start, size: 1, cpl: r.user ? 3 : 0, ac: false, value: 0n };
    const result = loaded.engine.access(a, true);
    walkOut.hidden = false;
    walkOut.textContent = explainAccess(a, result, loaded.engine.mmu.state, style(false));
    walkOut.scrollIntoView({ block: "nearest" });
  };

  const showSlot = (slot: number): void => {
    if (!loaded) return;
    for (const c of map.querySelectorAll(".slot.picked")) c.classList.remove("picked");
    map.querySelector(`.slot[data-slot="${slot}"]`)?.classList.add("picked");
    const list = loaded.bySlot.get(slot) ?? [];
    const table = el("table", { class: "img-table" }, el("thead", {}, el("tr", {}, el("th", {}, "start"), el("th", {}, "end"), el("th", {}, "size"), el("th", {}, "rights"), el("th", {}, "pages"))));
    const body = el("tbody");
    table.append(body);
    let shown = 0;
    const more = el("button", { id: "img-more", type: "button", class: "small" }, "");
    const page = (): void => {
      for (const r of list.slice(shown, shown + 200)) {
        const tr = el("tr", { "data-start": hex(r.start), class: r.user ? "user" : "kernel" },
          el("td", {}, hex16(r.start)), el("td", {}, hex16(r.end)), el("td", {}, hex16(r.end - r.start)),
          el("td", {}, `${r.user ? "u" : "-"}r${r.writable ? "w" : "-"}`), el("td", {}, `${r.pages} × ${[...r.sizes].join("/")}`));
        tr.addEventListener("click", () => showWalk(r));
        body.append(tr);
      }
      shown = Math.min(list.length, shown + 200);
      more.hidden = shown >= list.length;
      more.textContent = `show 200 more (${list.length - shown} left)`;
    };
    more.addEventListener("click", page);
    page();
    ranges.replaceChildren(
      el("p", { class: "img-slot-title" }, `Slot ${slot} (${slotName(slot, loaded.walk.levels)}): ${list.length} range(s); click one to walk its first address`),
      table,
      more,
    );
  };

  const show = (l: Loaded): void => {
    loaded = l;
    const mmu = l.engine.mmu;
    status.textContent = `${l.name}: ${mmu.pagingMode} paging from CR3 ${hex(mmu.cr3)}; ${l.walk.leaves.length} pages (QEMU's info tlb lines), ${l.ranges.length} ranges (info mem lines).`;
    status.dataset.leaves = String(l.walk.leaves.length);
    status.dataset.ranges = String(l.ranges.length);
    const cells: HTMLElement[] = [];
    for (let slot = 0; slot < 512; slot++) {
      const list = l.bySlot.get(slot);
      const pages = list ? list.reduce((n, r) => n + r.pages, 0) : 0;
      const kind = !list ? "empty" : slot < 256 ? "user" : "kernel";
      const cell = el("div", { class: `slot ${kind}`, "data-slot": String(slot), title: `slot ${slot}: ${slotName(slot, l.walk.levels)}${list ? `, ${list.length} range(s), ${pages} page(s)` : ", nothing mapped"}` });
      if (list) cell.addEventListener("click", () => showSlot(slot));
      cells.push(cell);
    }
    map.replaceChildren(
      el("div", { class: "img-legend note" }, "The top-level table's 512 slots (each 512 GiB with 4-level paging), user half then kernel half; click a coloured one to zoom in."),
      el("div", { class: "slots" }, ...cells),
    );
    const first = [...l.bySlot.keys()].sort((a, b) => a - b)[0];
    if (first !== undefined) showSlot(first);
  };

  const fail = (e: unknown): void => {
    status.textContent = e instanceof X86MmuError || e instanceof Error ? `Could not load: ${e.message}` : `Could not load: ${String(e)}`;
    status.classList.add("img-error");
  };

  sample.addEventListener("click", async () => {
    status.classList.remove("img-error");
    status.textContent = "Loading the Linux sample…";
    try {
      const [image, regs] = await Promise.all([fetchBytes(sampleImageUrl).then(decompressed), fetchBytes(sampleRegsUrl).then(decompressed)]);
      show(loadInto("Linux sample (Debian 6.1, QEMU 7.2)", image, new TextDecoder().decode(regs)));
    } catch (e) {
      fail(e);
    }
  });
  load.addEventListener("click", async () => {
    status.classList.remove("img-error");
    const f = file.files?.[0];
    const r = regsFile.files?.[0];
    if (!f || !r) return fail(new Error("choose an image file and a registers file"));
    try {
      const image = await decompressed(new Uint8Array(await f.arrayBuffer()));
      const regs = await decompressed(new Uint8Array(await r.arrayBuffer()));
      show(loadInto(f.name, image, new TextDecoder().decode(regs)));
    } catch (e) {
      fail(e);
    }
  });
}
