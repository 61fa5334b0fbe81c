/**
 * The browser entry: compile the core from a URL (or bytes) once, then use
 * the same API as on Node.js.
 *
 *     import { loadCore, Mmu } from "x86mmu/browser";
 *     await loadCore(new URL("x86mmu/build/core.wasm", import.meta.url)); // or any URL serving build/core.wasm
 *     const mmu = new Mmu();
 *
 * Several CPUs on Web Workers (SharedMachine) also need `loadThreadsCore`
 * with build/core.threads.wasm, and a cross-origin isolated page.
 */

import { setCoreModule, setThreadsCoreModule } from "./core/core.js";

async function compile(source: URL | string | BufferSource): Promise<WebAssembly.Module> {
  return typeof source === "string" || source instanceof URL ? await WebAssembly.compileStreaming(fetch(source)) : await WebAssembly.compile(source);
}

export async function loadCore(source: URL | string | BufferSource): Promise<void> {
  setCoreModule(await compile(source));
}

/**
 * For SharedMachine (CPUs on Web Workers): compile the core's threads build
 * (build/core.threads.wasm) in the page that makes the machine; workers get
 * the compiled module with `machine.handle` and need not load anything.
 */
export async function loadThreadsCore(source: URL | string | BufferSource): Promise<void> {
  setThreadsCoreModule(await compile(source));
}

export * from "./api.js";
