/**
 * Node.js: the compiled core is build/core.wasm beside this package, read
 * from disk the first time an Mmu is made.
 */

import { readFileSync } from "node:fs";
import { setCoreModule, setThreadsCoreModule } from "./core.js";
import { X86MmuError } from "../base/index.js";

setCoreModule(() => {
  const url = new URL("../../build/core.wasm", import.meta.url);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(url));
  } catch (e) {
    throw new X86MmuError("CORE_NOT_LOADED", `x86mmu: cannot read the WebAssembly core at ${url.pathname}; build it with "npm run build:core" (${(e as Error).message})`);
  }
  return new WebAssembly.Module(bytes);
});

setThreadsCoreModule(() => {
  const url = new URL("../../build/core.threads.wasm", import.meta.url);
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(url));
  } catch (e) {
    throw new X86MmuError("CORE_NOT_LOADED", `x86mmu: cannot read the threads build of the core at ${url.pathname}; build it with "npm run build:core" (${(e as Error).message})`);
  }
  return new WebAssembly.Module(bytes);
});
