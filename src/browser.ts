/**
 * The browser entry: compile the core from a URL (or bytes) once, then use
 * the same API as on Node.js.
 *
 *     import { loadCore, Mmu } from "x86mmu/browser";
 *     await loadCore(new URL("x86mmu/build/core.wasm", import.meta.url)); // or any URL serving build/core.wasm
 *     const mmu = new Mmu();
 */

import { setCoreModule } from "./core/core.js";

export async function loadCore(source: URL | string | BufferSource): Promise<void> {
  const module =
    typeof source === "string" || source instanceof URL
      ? await WebAssembly.compileStreaming(fetch(source))
      : await WebAssembly.compile(source);
  setCoreModule(module);
}

export * from "./api.js";
