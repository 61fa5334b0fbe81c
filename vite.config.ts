/**
 * The teaching page (web/): `npm run web` serves it with Vite's dev server,
 * `npm run build:web` builds it to web/dist (static files, no CDN: the
 * WebAssembly core and the examples are bundled), which `vite preview` or any
 * static file server serves offline.
 *
 * Both servers send the cross-origin isolation headers (COOP same-origin,
 * COEP require-corp), which SharedArrayBuffer and so the two-CPU card's run
 * on real threads (SharedMachine, a Web Worker) need; a static server
 * without them gets the page's one-thread fallback.
 */
import { defineConfig } from "vite";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL(".", import.meta.url));
const isolation = { "Cross-Origin-Opener-Policy": "same-origin", "Cross-Origin-Embedder-Policy": "require-corp" };

export default defineConfig({
  root: root + "web",
  base: "./",
  publicDir: false,
  build: {
    outDir: root + "web/dist",
    emptyOutDir: true,
    // Keep core.wasm a file of its own (fetched and compiled streaming).
    assetsInlineLimit: 0,
    target: "es2022",
  },
  server: { host: "127.0.0.1", fs: { allow: [root] }, headers: isolation },
  preview: { host: "127.0.0.1", headers: isolation },
  worker: { format: "es" },
});
