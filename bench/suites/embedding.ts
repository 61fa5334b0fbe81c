/**
 * Embedding suites (issue 8).
 *
 * Hooks: fused translate-and-load of 4 bytes over 4096 random aligned
 * addresses on a 64-page hot set (TLB hits), in three Mmus with the same
 * page tables: no hook (the group's baseline), a hook on another range (the
 * accessed pages keep the fast path: the target is no cost), and a hook on
 * the accessed pages (every access leaves the fast path and calls the hook:
 * the cost of hooking). Each as one `loadNumber` call per access and as one
 * `Batch.load` call for the 4096.
 *
 * Snapshots: an Mmu with 1 GiB of touched memory (262144 frames with
 * storage, mapped with 2 MiB pages); for 1, 10, 100 and 1000 dirty pages
 * (frames spread over the GiB, written after the snapshot): the time of
 * `snapshot()`, of the first writes after it (each saves its frame), and of
 * `restore()`. Baseline: `Uint8Array.set` of the same number of 4 KiB pages
 * from a saved copy (the least work any restore of those pages does). The
 * issue's target: restore after 100 written pages, 1 GiB touched, < 1 ms.
 */

import { x86, type Mmu } from "../lib.js";
import { bennyGroup, consume, manualRow, median, rng, timeNs, type BenchCase, type Ctx } from "../harness.js";

const N = 4096;
const HOT_VA = 0x40_0000;
const HOT_PA = 0x100_0000n;
const PAGES = 64;
const FLAGS = { writable: true, user: true };

/**
 * One Mmu (several Mmus in a process would make the call sites polymorphic
 * and slow every case down alike); each case installs its hook setting when
 * it starts (a case's operations then run with it: one comparison per 4096
 * accesses).
 */
function hotMmu(): { mmu: Mmu; use(hook: Hook): void } {
  const mmu = new x86.Mmu();
  const pt = mmu.createPageTable();
  pt.map(BigInt(HOT_VA), HOT_PA, BigInt(PAGES * 4096), { flags: FLAGS });
  pt.map(0x7000_0000n, 0x800_0000n, 0x1000n, { flags: FLAGS });
  mmu.loadState({ ...x86.LONG_MODE, cr3: pt.root });
  const data = new Uint8Array(PAGES * 4096);
  const r = rng(99);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
  mmu.writeBytes(BigInt(HOT_VA), data);
  let calls = 0;
  const before = () => void calls++;
  let current: Hook = "none";
  let handle: { remove(): void } | undefined;
  const use = (hook: Hook) => {
    if (hook === current) return;
    handle?.remove();
    handle = undefined;
    if (hook === "other") handle = mmu.addHook({ space: "linear", start: 0x7000_0000n, length: 0x1000n, before });
    if (hook === "accessed") handle = mmu.addHook({ space: "linear", start: BigInt(HOT_VA), length: BigInt(PAGES * 4096), ops: ["read"], before });
    current = hook;
  };
  return { mmu, use };
}
type Hook = "none" | "other" | "accessed";

function hookCases(): BenchCase[] {
  const r = rng(4242);
  const vas = Float64Array.from({ length: N }, () => HOT_VA + Math.floor(r() * PAGES) * 4096 + Math.floor(r() * 1024) * 4);
  const acc = x86.encodeAccess({ op: "read", size: 4, cpl: 3 });
  const cases: BenchCase[] = [];
  const { mmu, use } = hotMmu();
  const batch = mmu.batch(N);
  batch.input.set(Array.from(vas, (v) => BigInt(v)));
  const sumOf = () => vas.reduce((s, va) => (s + mmu.loadNumber(va, acc)) | 0, 0);
  const expected = sumOf();
  for (const [hook, label] of [["none", "no hook"], ["other", "hook on another range"], ["accessed", "hook on the accessed pages"]] as const) {
    use(hook);
    if (sumOf() !== expected) throw new Error(`bench: loads with ${label} disagree`);
    cases.push({
      name: `loadNumber, ${label}`,
      unit: "access",
      units: N,
      baseline: hook === "none" ? undefined : "loadNumber, no hook",
      fn: () => {
        use(hook);
        let s = 0;
        for (let i = 0; i < N; i++) s += mmu.loadNumber(vas[i]!, acc);
        consume(s);
      },
    });
    cases.push({
      name: `Batch.load, ${label}`,
      unit: "access",
      units: N,
      baseline: hook === "none" ? "loadNumber, no hook" : "Batch.load, no hook",
      fn: () => {
        use(hook);
        if (batch.load(N, acc) !== N) throw new Error("bench: batch load stopped");
      },
    });
  }
  use("none");
  return cases;
}

const GIB = 2 ** 30;
const VA = 0x4000_0000_0000n;

/** An Mmu with 1 GiB mapped (2 MiB pages) and every 4 KiB frame given storage. */
function touchedGiB(ctx: Ctx): { mmu: Mmu; frames: number } {
  const mmu = new x86.Mmu();
  const pt = mmu.createPageTable();
  pt.map(VA, 0x10_0000_0000n, BigInt(GIB), { size: "2M", flags: FLAGS });
  mmu.loadState({ ...x86.LONG_MODE, cr3: pt.root });
  const frames = GIB / 4096;
  const CHUNK = 65536;
  const batch = mmu.batch(CHUNK);
  batch.values.fill(1n);
  const acc = x86.encodeAccess({ op: "write", size: 1 });
  const t = timeNs(() => {
    for (let at = 0; at < frames; at += CHUNK) {
      for (let i = 0; i < CHUNK; i++) batch.input[i] = VA + BigInt(at + i) * 4096n;
      if (batch.store(CHUNK, acc) !== CHUNK) throw new Error("bench: touching 1 GiB faulted");
    }
  });
  if (mmu.memory.framesInUse < frames) throw new Error("bench: touched frames have no storage");
  ctx.log(`  embedding: touched 1 GiB (${frames} frames) in ${(t / 1e6).toFixed(0)} ms, linear memory ${(mmu.memory.bytesUsed / 2 ** 20).toFixed(0)} MiB`);
  return { mmu, frames };
}

function snapshotRows(ctx: Ctx): void {
  const { mmu, frames } = touchedGiB(ctx);
  const group = "snapshot / restore, 1 GiB touched";
  const reps = ctx.quick ? 7 : 31;
  const acc = x86.encodeAccess({ op: "write", size: 8 });
  const batch = mmu.batch(1000);
  const host = new Uint8Array(4096 * 1000);
  const saved = new Uint8Array(4096 * 1000).fill(7);
  for (const k of [1, 10, 100, 1000]) {
    // k frames spread over the GiB (a fresh random set per repetition)
    const r = rng(k);
    const pick = () => {
      const set = new Set<number>();
      while (set.size < k) set.add(Math.floor(r() * frames));
      let i = 0;
      for (const f of set) batch.input[i++] = VA + BigInt(f) * 4096n + 8n;
    };
    const snapNs: number[] = [];
    const writeNs: number[] = [];
    const restoreNs: number[] = [];
    let costFrames = 0;
    for (let rep = 0; rep < reps + 2; rep++) {
      pick();
      batch.values.fill(BigInt(rep + 2));
      let s: ReturnType<Mmu["snapshot"]> | undefined;
      const tSnap = timeNs(() => (s = mmu.snapshot()));
      const tWrite = timeNs(() => {
        if (batch.store(k, acc) !== k) throw new Error("bench: dirty writes faulted");
      });
      costFrames = s!.frames;
      const tRestore = timeNs(() => mmu.restore(s!));
      // the restore undid the writes: offset 8 of every frame was never written before the snapshot
      if (mmu.memory.read(0x10_0000_0000n + (batch.input[0]! - VA), 8) !== 0n) throw new Error("bench: restore did not undo a write");
      s!.release();
      if (rep >= 2) (snapNs.push(tSnap), writeNs.push(tWrite), restoreNs.push(tRestore));
    }
    if (costFrames < k) throw new Error(`bench: the snapshot saved ${costFrames} frames for ${k} dirty pages`);
    const base = `baseline: Uint8Array.set of ${k} page${k > 1 ? "s" : ""}`;
    manualRow(ctx, { suite: "embedding", group, name: base, unit: "restore", units: 1, reps }, () => ({
      ns: timeNs(() => {
        for (let i = 0; i < k; i++) host.set(saved.subarray(i * 4096, (i + 1) * 4096), ((i * 2654435761) % 1000) * 4096);
      }),
    }));
    const one = (name: string, xs: number[], unit: string, units: number, baseline?: string, extra?: Record<string, number | string>) => {
      const med = median(xs);
      ctx.rows.push({ suite: "embedding", group, name, unit, units, ns: med / units, perSec: (units * 1e9) / med, samples: xs.length, baseline, extra });
    };
    one(`restore(), ${k} dirty page${k > 1 ? "s" : ""}`, restoreNs, "restore", 1, base, { "snapshot frames": costFrames, "µs per page": +(median(restoreNs) / 1000 / k).toFixed(2) });
    one(`snapshot(), then ${k} dirty`, snapNs, "snapshot", 1);
    one(`first writes after snapshot, ${k} pages (copy-on-write)`, writeNs, "page", k);
    ctx.log(`  embedding: ${k} dirty pages: restore median ${(median(restoreNs) / 1e3).toFixed(1)} µs`);
  }
}

export async function run(ctx: Ctx): Promise<void> {
  await bennyGroup(ctx, "embedding", "translate-and-load 4 bytes, TLB hit, hooks", hookCases());
  snapshotRows(ctx);
  const r100 = ctx.rows.find((r) => r.suite === "embedding" && r.name === "restore(), 100 dirty pages");
  if (r100) ctx.log(`  embedding: target "restore after 100 written pages, 1 GiB touched, < 1 ms": ${(r100.ns / 1e6).toFixed(3)} ms, ${r100.ns < 1e6 ? "met" : "missed"}`);
}
