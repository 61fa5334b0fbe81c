/**
 * core — the WebAssembly core (built from assembly/) as the host sees it:
 * instantiation through @assemblyscript/loader, its exports typed, the
 * mailbox, scratch buffers. `load-node.ts` reads build/core.wasm from disk;
 * the browser entry (src/browser.ts) hands a compiled module in instead.
 * Imports arch and base.
 */

export * from "./core.js";
