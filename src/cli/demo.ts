/**
 * The demo `npm start` runs: build a small address space with the page-table
 * helpers, turn on long-mode paging, and translate a few addresses (one of
 * them faults), printing each walk level by level.
 */

import { LONG_MODE } from "../mmu/index.js";
import { CoreEngine } from "../scenario/index.js";
import { explainAccess, type Style } from "./explain.js";
import type { Access } from "../scenario/index.js";
import { hex } from "../base/index.js";
import { relative } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Where the bundled examples are, as the user would type it from here: `examples`
 * in a clone, `node_modules/x86mmu/examples` in a project that installed the package.
 */
function examplesDir(): string {
  const dir = relative(process.cwd(), fileURLToPath(new URL("../../examples", import.meta.url)));
  return dir === "" ? "." : dir;
}

export function runDemo(s: Style, print: (line: string) => void): void {
  const engine = new CoreEngine();
  const mmu = engine.mmu;

  // A user program's code (read-only, executable) and data (writable, no
  // execute) pages, and a kernel page mapped with a 2 MiB page in the upper half.
  const pt = mmu.createPageTable();
  const code = mmu.memory.allocFrame();
  const data = mmu.memory.allocFrame();
  pt.map(0x400000n, code, 0x1000n, { flags: { user: true } });
  pt.map(0x600000n, data, 0x1000n, { flags: { user: true, writable: true, noExecute: true } });
  pt.map(0xffff800000000000n, 0x200000n, 0x200000n, { size: "2M", flags: { writable: true, global: true } });
  mmu.memory.write(data + 0x10n, 8, 0x1122334455667788n);
  mmu.loadState({ ...LONG_MODE, cr3: pt.root, cr4: LONG_MODE.cr4 | (1n << 20n) | (1n << 21n) }); // + SMEP, SMAP

  print(s.bold("x86mmu demo: an x86-64 MMU in WebAssembly"));
  print(`Page tables built at ${hex(pt.root)} (4-level paging, CR4.SMEP and CR4.SMAP on):`);
  print(`  0x400000           -> ${hex(code)}   4 KiB, user, read-only (code)`);
  print(`  0x600000           -> ${hex(data)}   4 KiB, user, writable, execute-disable (data)`);
  print(`  0xffff800000000000 -> 0x200000   2 MiB, supervisor, writable, global (kernel)`);
  print("");

  const accesses: Access[] = [
    { va: 0x400010n, op: "fetch", size: 1, cpl: 3, ac: false, value: 0n },
    { va: 0x600010n, op: "read", size: 8, cpl: 3, ac: false, value: 0n },
    { va: 0xffff800000123456n, op: "write", size: 4, cpl: 0, ac: false, value: 0xcafen },
    { va: 0x400020n, op: "write", size: 4, cpl: 3, ac: false, value: 0x90909090n },
  ];
  for (const a of accesses) {
    print(explainAccess(a, engine.access(a, true), mmu.state, s));
    print("");
  }
  print(`The walks set accessed flags in memory as a processor does: PML4[0] is now ${hex(mmu.memory.read(pt.root, 8))} (A, bit 5, set).`);
  // `npx` finds the command in a clone and in a project that installed the package alike.
  const ex = examplesDir();
  print(`Try: npx x86mmu run ${ex}/user-write-readonly.json --trace   or   npx x86mmu explain ${ex}/smap.json`);
}
