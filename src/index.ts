/** x86mmu for Node.js: loads build/core.wasm from disk, then the public API (api.ts). */
import "./core/load-node.js";
export * from "./api.js";
