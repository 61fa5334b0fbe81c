/**
 * The one place the benchmarks load x86mmu from: the built package (dist/ and
 * build/core.wasm), exactly what a user gets after `npm install`. Types come
 * from dist/*.d.ts; the modules are imported at run time by absolute URL, so
 * the compiled benchmarks (build/bench-out/) find dist/ wherever they live.
 */

import { existsSync, statSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type * as Api from "../dist/index.js";
import type * as CoreMod from "../dist/core/core.js";
import type * as RefWalker from "../dist/reference/walker.js";
import type * as RefMemory from "../dist/reference/memory.js";

/** The project root: the nearest directory above this file with dist/index.js. */
function findRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(d, "package.json")) && existsSync(join(d, "dist", "index.js"))) return d;
    const up = dirname(d);
    if (up === d) throw new Error("bench: cannot find the built x86mmu (dist/index.js); run `npm run build` first");
    d = up;
  }
}

export const ROOT = findRoot();
const load = async <T>(rel: string): Promise<T> => (await import(pathToFileURL(join(ROOT, rel)).href)) as T;

export const x86: typeof Api = await load<typeof Api>("dist/index.js");
export const coreMod: typeof CoreMod = await load<typeof CoreMod>("dist/core/core.js");
export const refWalker: typeof RefWalker = await load<typeof RefWalker>("dist/reference/walker.js");
export const refMemory: typeof RefMemory = await load<typeof RefMemory>("dist/reference/memory.js");

export type Mmu = Api.Mmu;
export type Batch = Api.Batch;
export type PageTable = Api.PageTable;
export type Core = CoreMod.Core;
export type RefPhysicalMemory = RefMemory.PhysicalMemory;

/**
 * The owner-guarded I/O API (VmSpace, VmReader, VmWriter, InfallibleVmReader
 * / InfallibleVmWriter), typed only as far as the benchmarks use it. Loaded
 * from dist/ostd/index.js (or the package entry); undefined, with the
 * reason, when this build does not have it.
 */
export interface Copyable {
  readonly remain: number;
  close(): void;
}
export interface VmReaderLike extends Copyable {
  readFallible(w: unknown): { copied: number; fault: unknown };
}
export interface VmWriterLike extends Copyable {
  readonly avail: number;
  writeFallible(r: unknown): { copied: number; fault: unknown };
}
export interface VmSpaceLike {
  readonly root: bigint;
  activate(): void;
  map(va: bigint, pa: bigint, len: bigint, options?: { size?: "4K" | "2M" | "1G"; flags?: unknown }): void;
  reader(va: bigint, len: bigint): VmReaderLike;
  writer(va: bigint, len: bigint): VmWriterLike;
}
export interface OwnerIo {
  VmSpace: { create(mmu: Mmu, options?: Record<string, unknown>): VmSpaceLike };
  InfallibleVmReader: { from(b: Uint8Array): unknown };
  InfallibleVmWriter: { from(b: Uint8Array): unknown };
}

export async function loadOwnerIo(): Promise<{ io?: OwnerIo; why?: string }> {
  const candidates = ["dist/ostd/index.js", "dist/index.js"];
  for (const rel of candidates) {
    if (!existsSync(join(ROOT, rel))) continue;
    let m: Record<string, unknown>;
    try {
      m = await load<Record<string, unknown>>(rel);
    } catch (e) {
      continue;
    }
    const vs = m.VmSpace as { create?: unknown; prototype?: Record<string, unknown> } | undefined;
    if (vs && typeof vs.create === "function" && typeof m.InfallibleVmReader === "function" && typeof m.InfallibleVmWriter === "function") {
      const p = vs.prototype ?? {};
      if (typeof p.reader === "function" && typeof p.writer === "function" && typeof p.map === "function" && typeof p.activate === "function") {
        return { io: m as unknown as OwnerIo };
      }
    }
  }
  return { why: "this build has no owner-guarded I/O API (VmSpace.create + reader/writer/map/activate, InfallibleVmReader/Writer) in dist/ostd/index.js or dist/index.js" };
}

/** Warns when dist/ or build/core.wasm is older than the sources (the benchmark would measure stale code). */
export function staleBuildWarning(): string | undefined {
  const newest = (dir: string): number => {
    let t = 0;
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.name.endsWith(".ts")) t = Math.max(t, statSync(p).mtimeMs);
      }
    };
    if (existsSync(dir)) walk(dir);
    return t;
  };
  const src = newest(join(ROOT, "src"));
  const asm = newest(join(ROOT, "assembly"));
  const dist = statSync(join(ROOT, "dist", "index.js")).mtimeMs;
  const wasmPath = join(ROOT, "build", "core.wasm");
  const wasm = existsSync(wasmPath) ? statSync(wasmPath).mtimeMs : 0;
  const out: string[] = [];
  if (src > dist) out.push("src/ is newer than dist/ (run `npm run build:host`)");
  if (asm > wasm || src > wasm + 1e9) {
    if (asm > wasm) out.push("assembly/ is newer than build/core.wasm (run `npm run build:core`)");
  }
  return out.length ? out.join("; ") : undefined;
}
