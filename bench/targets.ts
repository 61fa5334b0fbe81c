/**
 * The targets of issue 12 (and issue 15's SMP ones), checked against one run's rows: ratios measured
 * in the same process, side by side (medians of interleaved rounds for the
 * translate groups and the random loads). Each verdict says what was
 * measured, "met" or "missed", and by how much when missed. The yardstick is
 * the shared minimal walker, which V8 inlines into its timing loop.
 */

import type { Row } from "./harness.js";

export interface Verdict {
  target: string;
  measured: string;
  verdict: "met" | "missed" | "not measured";
  by?: string;
}

const find = (rows: Row[], suite: string, group: string, name: string): Row | undefined =>
  rows.find((r) => r.suite === suite && r.group === group && r.name === name);

const ns = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} µs` : `${v.toFixed(2)} ns`);

function atMost(target: string, measured: number | undefined, limit: number, show: (v: number) => string, unitText = ""): Verdict {
  if (measured === undefined || !Number.isFinite(measured)) return { target, measured: "-", verdict: "not measured" };
  const ok = measured <= limit;
  return { target, measured: show(measured) + unitText, verdict: ok ? "met" : "missed", by: ok ? undefined : `${(measured / limit).toFixed(2)}× the limit` };
}

function atLeast(target: string, measured: number | undefined, limit: number, show: (v: number) => string): Verdict {
  if (measured === undefined || !Number.isFinite(measured)) return { target, measured: "-", verdict: "not measured" };
  const ok = measured >= limit;
  return { target, measured: show(measured), verdict: ok ? "met" : "missed", by: ok ? undefined : `${((measured / limit) * 100).toFixed(0)}% of the target` };
}

export function evaluateTargets(rows: Row[]): Verdict[] {
  const out: Verdict[] = [];
  const x = (v: number) => `${v.toFixed(2)}×`;
  const Y = "baseline: minimal walker (shared yardstick)";
  const FULL = "baseline: full TS walker";
  const row = (suite: string, group: string, name: string) => find(rows, suite, group, name);
  /** How many times faster `name` is than `base` in one group (base time / case time). */
  const speedup = (suite: string, group: string, name: string, base: string): number | undefined => {
    const c = row(suite, group, name);
    const b = row(suite, group, base);
    return c && b ? b.ns / c.ns : undefined;
  };

  // Against the shared yardstick.
  const HIT = "TLB hit, 4-level, 64-page hot set";
  out.push(atLeast("TLB hit, batch ≥ 2.5× the yardstick", speedup("translate", HIT, "x86mmu batch translate", Y), 2.5, x));
  out.push(atLeast("TLB hit, translateNumber ≥ 0.8× the yardstick", speedup("translate", HIT, "x86mmu translateNumber, 1 call/address", Y), 0.8, x));
  out.push(atLeast("TLB hit, bigint translate ≤ 3× translateNumber's time", speedup("translate", HIT, "x86mmu translate (bigint), 1 call/address", "x86mmu translateNumber, 1 call/address"), 1 / 3, (v) => `${(1 / v).toFixed(2)}× its time`));
  const LOAD8 = "fused load, 8 bytes, TLB hit";
  const LOADY = "baseline: minimal walker (shared yardstick) + load";
  out.push(atLeast("fused 8-byte load, TLB hit, batch ≥ 2.5× the yardstick + load", speedup("access", LOAD8, "x86mmu batch load", LOADY), 2.5, x));
  out.push(atLeast("loadNumber (4 bytes), TLB hit ≥ 0.8× the yardstick + load", speedup("access", "fused load, 4 bytes, TLB hit", "x86mmu loadNumber, 1 call/access", LOADY), 0.8, x));
  const RAND = "TLB miss, 1 GiB random, 4K pages, 4-level";
  const HOT = "TLB miss, hot tables (16 MiB, 4K pages), 4-level";
  out.push(atLeast("TLB miss, 1 GiB random, batch ≥ 0.6× the yardstick", speedup("translate", RAND, "x86mmu batch translate", Y), 0.6, x));
  out.push(atLeast("TLB miss, hot tables, flushTlb per batch ≥ 0.5× the yardstick", speedup("translate", HOT, "x86mmu batch translate", Y), 0.5, x));

  // Against the full-check TypeScript walker: every miss case.
  for (const g of [HOT, RAND, "TLB miss, hot tables (16 MiB, 4K pages), 5-level", "TLB miss, 1 GiB random, 4K pages, 5-level", "TLB miss, 1 GiB random, 2M pages, 4-level"]) {
    out.push(atLeast(`${g}, batch ≥ 1.5× the full-check walker`, speedup("translate", g, "x86mmu batch translate", FULL), 1.5, x));
  }
  out.push(atLeast("fused 8-byte load, 1 GiB random, batch ≥ 0.6× the yardstick + load", speedup("access", "fused load, 8 bytes, 1 GiB random", "x86mmu batch load", LOADY), 0.6, x));

  // Copies.
  const SET = "baseline: Uint8Array.set";
  out.push(atLeast("readInto 1 MiB ≥ 0.7× Uint8Array.set", speedup("copy", "1 MiB", "Mmu.readInto → host Uint8Array (no owner layer)", SET), 0.7, x));
  out.push(atLeast("VmReader → host 1 MiB ≥ 0.7× Uint8Array.set", speedup("copy", "1 MiB", "VmReader → host Uint8Array", SET), 0.7, x));
  out.push(atLeast("host → VmWriter 1 MiB ≥ 0.7× Uint8Array.set", speedup("copy", "1 MiB", "host Uint8Array → VmWriter", SET), 0.7, x));
  out.push(atLeast("VmReader → VmWriter 1 MiB ≥ 0.7× memory.copy", speedup("copy", "1 MiB", "VmReader → VmWriter (VM space to VM space)", "baseline: memory.copy in the core"), 0.7, x));

  // Owner checks and lifecycle: 10,000 live tokens cost at most twice one (each group: one kind of copy, its cases the spaces).
  const ownerGroups = [...new Set(rows.filter((r) => r.suite === "owner").map((r) => r.group))];
  for (const group of ownerGroups) {
    const one = row("owner", group, "1 registered token");
    const many = row("owner", group, "10000 registered tokens");
    out.push(atMost(`owner, 10,000 tokens ≤ 2× the cost with 1 (${group})`, one && many ? many.ns / one.ns : undefined, 2, x));
  }
  if (ownerGroups.length === 0) out.push({ target: "owner, 10,000 tokens ≤ 2× the cost with 1", measured: "-", verdict: "not measured" });

  // Several CPUs on threads (issue 15): two workers against one, and one CPU of a SharedMachine against a plain Mmu.
  const twoWorkers = (group: string) => row("smp", `throughput: ${group}`, "2 workers")?.ratio;
  out.push(atLeast("(issue 15) 2 workers ≥ 1.7× one, TLB hit, batch", twoWorkers("TLB hit, batch"), 1.7, x));
  out.push(atLeast("(issue 15) 2 workers ≥ 1.7× one, TLB miss, random over 1 GiB", twoWorkers("TLB miss, batch, random over 1 GiB"), 1.7, x));
  for (const g of ["hit", "miss"]) {
    out.push(atLeast(`(issue 15) one SharedMachine CPU within 5% of a plain Mmu, TLB ${g}`, speedup("smp", `one CPU: TLB ${g}, batch`, "SharedMachine CPU (threads build)", "Mmu (single-CPU build)"), 0.95, x));
  }

  // Scale (from earlier rounds, kept so they do not regress).
  const m1k = row("scale", "map 4 KiB pages", "PageTable.map, 1000 pages");
  const m1m = row("scale", "map 4 KiB pages", "PageTable.map, 1000000 pages");
  out.push(atMost("map: per-map cost at 1M pages ≤ 2× that at 1K", m1k && m1m ? m1m.ns / m1k.ns : undefined, 2, x));
  const sc = row("scenario", "10000 generated scenarios", "CoreEngine: parse + run");
  out.push(atLeast("scenario runner: ≥ 5,000 scenarios/s (parse + run)", sc?.perSec, 5000, (v) => `${v.toFixed(0)}/s`));
  return out;
}
