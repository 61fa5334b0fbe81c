/**
 * Scale: what building and using a large address space costs.
 *
 * - map: N single-page `PageTable.map` calls (4 KiB pages, consecutive
 *   virtual pages, one call per page as a kernel's page-fault handler maps
 *   them) into a fresh Mmu, for N = 1 thousand, 100 thousand, 1 million:
 *   the median time per map call. The target: no growth with N.
 * - touch: a fresh Mmu maps 256 MiB / 2 GiB with 2 MiB pages and stores one
 *   byte into every 4 KiB frame with `Batch.store` (65536 addresses per
 *   call), so each frame gets storage in linear memory: the time per frame,
 *   and the linear memory the frame store then uses.
 *
 * One-shot operations (each repetition builds fresh state), so these are
 * timed directly (process.hrtime) rather than by benny; medians over the
 * repetitions.
 */

import { x86 } from "../lib.js";
import { manualRow, timeNs, type Ctx } from "../harness.js";

const FLAGS = { writable: true, user: true };

function mapPages(n: number): { ns: number; extra: Record<string, number | string> } {
  const mmu = new x86.Mmu();
  const pt = mmu.createPageTable();
  let va = 0x7f00_0000_0000n;
  let pa = 0x1_0000_0000n;
  const opts = { flags: FLAGS };
  const ns = timeNs(() => {
    for (let i = 0; i < n; i++) {
      pt.map(va, pa, 0x1000n, opts);
      va += 0x1000n;
      pa += 0x1000n;
    }
  });
  return { ns, extra: { "table MiB": +(mmu.memory.bytesUsed / 2 ** 20).toFixed(1) } };
}

function touch(bytes: number): { ns: number; extra: Record<string, number | string> } {
  const mmu = new x86.Mmu();
  const pt = mmu.createPageTable();
  const VA = 0x4000_0000_0000n;
  pt.map(VA, 0x10_0000_0000n, BigInt(bytes), { size: "2M", flags: FLAGS });
  mmu.loadState({ ...x86.LONG_MODE, cr3: pt.root });
  const frames = bytes / 4096;
  const addrs = new BigUint64Array(frames);
  for (let i = 0; i < frames; i++) addrs[i] = VA + BigInt(i) * 4096n;
  const CHUNK = 65536;
  const batch = mmu.batch(CHUNK);
  batch.values.fill(1n);
  const acc = x86.encodeAccess({ op: "write", size: 1 });
  const before = mmu.memory.bytesUsed;
  const chunkNs: number[] = [];
  const ns = timeNs(() => {
    for (let at = 0; at < frames; at += CHUNK) {
      const t0 = process.hrtime.bigint();
      batch.input.set(addrs.subarray(at, at + CHUNK));
      const done = batch.store(CHUNK, acc);
      if (done !== CHUNK) throw new Error(`bench: touch stopped at ${at + done}: ${String(mmu.lastFault())}`);
      chunkNs.push(Number(process.hrtime.bigint() - t0));
    }
  });
  const used = mmu.memory.bytesUsed;
  if (mmu.memory.framesInUse < frames) throw new Error("bench: touched frames have no storage");
  return {
    ns,
    extra: {
      "linear memory MiB": +(used / 2 ** 20).toFixed(0),
      "overhead %": +(((used - before - bytes) / bytes) * 100).toFixed(2),
      "first 256 MiB ns/frame": +(chunkNs[0]! / CHUNK).toFixed(0),
      "last 256 MiB ns/frame": +(chunkNs[chunkNs.length - 1]! / CHUNK).toFixed(0),
    },
  };
}

export async function run(ctx: Ctx): Promise<void> {
  // Warm the JIT on the host side of map() before anything is timed.
  for (let i = 0; i < 5; i++) mapPages(1000);
  const reps = ctx.quick ? { 1000: 9, 100000: 2, 1000000: 1 } : { 1000: 21, 100000: 5, 1000000: 3 };
  // --quick skips the 1-million-page map and the 2 GiB touch (about 20 s together): the full run has them.
  for (const n of ctx.quick ? ([1000, 100000] as const) : ([1000, 100000, 1000000] as const)) {
    manualRow(ctx, { suite: "scale", group: "map 4 KiB pages", name: `PageTable.map, ${n} pages`, unit: "map", units: n, reps: reps[n], baseline: n === 1000 ? undefined : "PageTable.map, 1000 pages" }, () => mapPages(n));
    ctx.log(`  scale: mapped ${n} pages`);
  }
  manualRow(ctx, { suite: "scale", group: "touch frames", name: "touch 256 MiB (65536 frames)", unit: "frame", units: 65536, reps: ctx.quick ? 1 : 3 }, () => touch(256 * 2 ** 20));
  ctx.log("  scale: touched 256 MiB");
  if (ctx.quick) return;
  manualRow(ctx, { suite: "scale", group: "touch frames", name: "touch 2 GiB (524288 frames)", unit: "frame", units: 524288, reps: 1, baseline: "touch 256 MiB (65536 frames)" }, () => touch(2 * 2 ** 30));
  ctx.log("  scale: touched 2 GiB");
}
