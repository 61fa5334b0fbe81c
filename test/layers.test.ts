/**
 * The tree is the architecture diagram: this test keeps it so. It reads the
 * import statements of src/ and assembly/ and fails when
 *  - a run-time import cycle exists anywhere (type-only imports are allowed
 *    between files of one layer: they vanish at run time), or
 *  - a layer imports a layer above it (the order is LAYERS below; a
 *    type-only import counts too, except the ones ALLOWED_TYPE_IMPORTS lists).
 */
import { describe, it, expect } from "vitest";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * Layers of src/, each may import the ones it lists (and itself). Entries at
 * the top of src/ (index.ts, browser.ts, api.ts) may import anything.
 */
export const LAYERS: Record<string, string[]> = {
  arch: [],
  base: ["arch"],
  reference: ["arch", "base"],
  core: ["arch", "base"],
  phys: ["arch", "base", "core"],
  mmu: ["arch", "base", "core", "phys"],
  inspect: ["arch", "base", "core", "phys", "mmu"],
  ostd: ["arch", "base", "core", "phys", "mmu"],
  machine: ["arch", "base", "core", "phys", "mmu"],
  scenario: ["arch", "base", "core", "phys", "mmu", "machine", "reference"],
  cli: ["arch", "base", "core", "phys", "mmu", "inspect", "ostd", "machine", "scenario", "reference"],
};

/** Type-only imports that cross layers upward on purpose. */
const ALLOWED_TYPE_IMPORTS: [from: string, to: string][] = [
  // The reference walker is a scenario engine: it speaks the format's types.
  ["reference", "scenario/types.ts"],
];

interface Edge {
  from: string;
  to: string;
  typeOnly: boolean;
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Every relative import of a file, resolved to a path relative to the root. */
export function importsOf(file: string): Edge[] {
  const text = readFileSync(file, "utf8");
  const edges: Edge[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s*from\s*["'](\.{1,2}\/[^"']+)["']|^\s*import\s+["'](\.{1,2}\/[^"']+)["']/gms;
  for (const m of text.matchAll(re)) {
    const spec = m[4] ?? m[5]!;
    // `import { type A, type B }` is type-only too.
    const names = m[3] ?? "";
    const typeOnly = m[2] !== undefined || (/^\{[^}]*\}$/s.test(names) && names.slice(1, -1).split(",").map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith("type ")));
    let target = resolve(dirname(file), spec).replace(/\.js$/, "");
    if (!target.endsWith(".ts")) target += ".ts";
    edges.push({ from: relative(root, file), to: relative(root, target), typeOnly });
  }
  return edges;
}

/** The run-time cycles of a graph (one per strongly connected component of more than one file, or a self-import). */
export function cycles(edges: Edge[]): string[][] {
  const graph = new Map<string, string[]>();
  for (const e of edges) if (!e.typeOnly) graph.set(e.from, [...(graph.get(e.from) ?? []), e.to]);
  // Tarjan's strongly connected components.
  let index = 0;
  const idx = new Map<string, number>(), low = new Map<string, number>(), on = new Set<string>(), stack: string[] = [];
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index); low.set(v, index); index++;
    stack.push(v); on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) { visit(w); low.set(v, Math.min(low.get(v)!, low.get(w)!)); }
      else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do { w = stack.pop()!; on.delete(w); comp.push(w); } while (w !== v);
      if (comp.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(comp.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

const layerOf = (path: string): string | undefined => {
  const m = /^src\/([^/]+)\//.exec(path);
  return m ? m[1] : undefined;
};

describe("layout", () => {
  const src = filesUnder(join(root, "src")).flatMap(importsOf);
  const asm = filesUnder(join(root, "assembly")).flatMap(importsOf);

  it("finds the imports it checks (the checker itself works)", () => {
    expect(src.length).toBeGreaterThan(50);
    expect(asm.length).toBeGreaterThan(10);
    expect(cycles([
      { from: "a", to: "b", typeOnly: false }, { from: "b", to: "c", typeOnly: false }, { from: "c", to: "a", typeOnly: false },
      { from: "c", to: "d", typeOnly: false }, { from: "d", to: "c", typeOnly: true },
    ])).toEqual([["a", "b", "c"]]);
  });

  it("has no run-time import cycle in src/", () => {
    expect(cycles(src)).toEqual([]);
  });

  it("has no import cycle in assembly/", () => {
    expect(cycles(asm)).toEqual([]);
  });

  it("every file of src/ belongs to a known layer, or is an entry at the top", () => {
    const files = filesUnder(join(root, "src")).map((f) => relative(root, f));
    const strays = files.filter((f) => layerOf(f) === undefined && !["src/index.ts", "src/browser.ts", "src/api.ts"].includes(f));
    expect(strays).toEqual([]);
    const unknown = files.map(layerOf).filter((l) => l !== undefined && !(l in LAYERS));
    expect(unknown).toEqual([]);
  });

  it("imports go down the layers only", () => {
    const wrong = src.filter((e) => {
      const from = layerOf(e.from), to = layerOf(e.to);
      if (from === undefined || to === undefined || from === to) return false;
      if (LAYERS[from]!.includes(to)) return false;
      return !(e.typeOnly && ALLOWED_TYPE_IMPORTS.some(([f, t]) => f === from && e.to === `src/${t}`));
    }).map((e) => `${e.from} -> ${e.to}${e.typeOnly ? " (type)" : ""}`);
    expect(wrong).toEqual([]);
  });

  it("the core imports only the architecture's constants from src/", () => {
    const wrong = asm.filter((e) => e.to.startsWith("src/") && !e.to.startsWith("src/arch/")).map((e) => `${e.from} -> ${e.to}`);
    expect(wrong).toEqual([]);
  });
});
