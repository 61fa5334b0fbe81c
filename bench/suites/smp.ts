/**
 * Several CPUs on real threads (issue 15, SharedMachine): one shared memory
 * maps 1 GiB of 4 KiB pages (VA 0x40000000), and each CPU runs in its own
 * worker.
 *
 * - throughput: 1 worker, then 2 workers at once, each timing the same
 *   number of 4096-address batches: TLB hits (64 hot pages), TLB misses
 *   (random pages over the 1 GiB: the 1024-entry TLB holds 0.4% of them) and
 *   fused 8-byte loads (hot). A row's time per address is the slowest
 *   worker's time over every worker's addresses; each round times both
 *   back to back, and the ratio shown is the median of the rounds' ratios
 *   ("2 workers" at 2.00× "1 worker" is perfect scaling). This machine has
 *   2 cores, shared with other tenants.
 * - one CPU: the same hit and miss batches on one CPU of a SharedMachine
 *   (threads build, in this thread) against a plain Mmu (single-CPU build).
 * - shootdown: CPU 0 (this thread) posts an INVLPG to 1 or 2 worker CPUs
 *   that are busy translating, and waits until each has performed it: the
 *   round trip per shootdown.
 */

import { Worker } from "node:worker_threads";
import { x86 } from "../lib.js";
import { interleavedGroup, manualRow, median, type Ctx } from "../harness.js";

const WORKER = new URL("../smp-worker.js", import.meta.url);
const VA = 0x40000000n;
const PAGES = 262144; // 1 GiB

function machine(cpus: number) {
  const m = new x86.SharedMachine({ cpus });
  const c0 = m.attach(0);
  const pt = c0.mmu.createPageTable();
  pt.map(VA, 0x100000000n, BigInt(PAGES) * 0x1000n, { flags: { writable: true, user: true } });
  // The hot pages hold data, so fused loads read frames with storage.
  for (let p = 0; p < 64; p++) c0.mmu.memory.write(0x100000000n + BigInt(p) * 0x1000n, 8, BigInt(p + 1));
  c0.mmu.loadState({ ...x86.LONG_MODE, cr3: pt.root });
  return { m, c0, cr3: pt.root };
}

function spawn(handle: unknown, index: number, cr3: bigint, job: Record<string, unknown>, gate: SharedArrayBuffer, parties: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { workerData: { handle, index, cr3, pages: PAGES, gate, parties, seed: 77 + index, ...job } });
    w.once("message", (m: { ns: number }) => resolve(m.ns));
    w.once("error", reject);
  });
}

async function throughput(ctx: Ctx, kind: "hit" | "miss" | "load", label: string): Promise<void> {
  const batches = ctx.quick ? 100 : kind === "miss" ? 1600 : 8000; // about 200 ms per worker
  const reps = ctx.quick ? 3 : 9;
  const { m, cr3 } = machine(3);
  const per: Record<number, number[]> = { 1: [], 2: [] };
  const ratios: number[] = [];
  for (let r = 0; r < reps; r++) {
    // Each round times 1 worker and 2 workers back to back (in alternating order), so the
    // ratio of one round is measured under the same conditions: this shared machine's
    // speed drifts by 2x between minutes.
    const round: Record<number, number> = {};
    for (const n of r % 2 ? [2, 1] : [1, 2]) {
      const gate = new SharedArrayBuffer(8);
      const ns = await Promise.all(Array.from({ length: n }, (_, i) => spawn(m.handle, i + 1, cr3, { kind, batches }, gate, n)));
      round[n] = Math.max(...ns) / (n * batches * 4096);
      per[n]!.push(round[n]!);
    }
    ratios.push(round[1]! / round[2]!);
  }
  for (const n of [1, 2]) {
    const ns = median(per[n]!);
    ctx.rows.push({
      suite: "smp",
      group: `throughput: ${label}`,
      name: n === 1 ? "1 worker" : "2 workers",
      unit: "address",
      units: 4096,
      ns,
      perSec: 1e9 / ns,
      samples: reps,
      baseline: n === 1 ? undefined : "1 worker",
      // The ratio is the median of the rounds' own ratios, not the ratio of the medians.
      ratio: n === 1 ? undefined : median(ratios),
      extra: n === 1 ? undefined : { "round ratios": `${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}` },
    });
  }
  ctx.log(`  throughput ${label}: ${reps} rounds`);
}

async function oneCpu(ctx: Ctx): Promise<void> {
  const { c0 } = machine(1);
  const plain = new x86.Mmu();
  const pt = plain.createPageTable();
  pt.map(VA, 0x100000000n, BigInt(PAGES) * 0x1000n, { flags: { writable: true, user: true } });
  plain.loadState({ ...x86.LONG_MODE, cr3: pt.root });
  const read = x86.encodeAccess({ op: "read" });
  let s = 99;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
  const hot = new BigUint64Array(4096).map(() => VA + BigInt((next() % 64) * 4096));
  const random = Array.from({ length: 32 }, () => new BigUint64Array(4096).map(() => VA + BigInt((next() % PAGES) * 4096)));
  const cases = (mmu: typeof c0.mmu, who: string) => {
    const b = mmu.batch(4096);
    let k = 0;
    return [
      { group: "hit", name: who, fn: () => (b.input.set(hot), b.translate(4096, read)) },
      { group: "miss", name: who, fn: () => (b.input.set(random[k++ & 31]!), b.translate(4096, read)) },
    ];
  };
  const all = [...cases(plain, "Mmu (single-CPU build)"), ...cases(c0.mmu, "SharedMachine CPU (threads build)")];
  for (const group of ["hit", "miss"]) {
    await interleavedGroup(
      ctx,
      "smp",
      `one CPU: TLB ${group}, batch`,
      all.filter((c) => c.group === group).map((c) => ({ name: c.name, fn: () => void c.fn(), units: 4096, unit: "address", baseline: c.name.startsWith("Mmu") ? undefined : "Mmu (single-CPU build)" })),
    );
  }
}

async function shootdowns(ctx: Ctx, targets: number): Promise<void> {
  const { m, c0, cr3 } = machine(1 + targets);
  const gate = new SharedArrayBuffer(8);
  const flag = new Int32Array(gate);
  const served = Array.from({ length: targets }, (_, i) => spawn(m.handle, i + 1, cr3, { kind: "serve", batches: 0 }, gate, targets + 1));
  Atomics.add(flag, 0, 1);
  while (Atomics.load(flag, 0) < targets + 1) {
    // wait for the workers to be at work
  }
  const list = Array.from({ length: targets }, (_, i) => i + 1);
  const n = ctx.quick ? 200 : 2000;
  manualRow(ctx, { suite: "smp", group: "shootdown (INVLPG, post and wait)", name: `to ${targets} busy CPU${targets > 1 ? "s" : ""}`, unit: "shootdown", units: n, reps: ctx.quick ? 3 : 7 }, () => {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < n; k++) {
      if (!c0.shootdown(list, { kind: "invlpg", va: VA }).wait(5000)) throw new Error("smp bench: a shootdown was not acknowledged in 5 s");
    }
    return { ns: Number(process.hrtime.bigint() - t0) };
  });
  Atomics.store(flag, 1, 1);
  await Promise.all(served);
}

export async function run(ctx: Ctx): Promise<void> {
  await throughput(ctx, "hit", "TLB hit, batch");
  await throughput(ctx, "miss", "TLB miss, batch, random over 1 GiB");
  await throughput(ctx, "load", "fused 8-byte load, batch, hot");
  await oneCpu(ctx);
  await shootdowns(ctx, 1);
  await shootdowns(ctx, 2);
}
