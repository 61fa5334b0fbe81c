/**
 * The targets of issue 7, checked against one run's rows. Each verdict says
 * what was measured, "met" or "missed", and by how much when missed.
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
  const x = (v: number) => `${v.toFixed(3)}×`;
  const Y = "baseline: minimal walker (shared yardstick)";
  const notMeasured = (target: string, why: string): Verdict => ({ target, measured: why, verdict: "not measured" });
  for (const lv of [4, 5]) {
    const g = `TLB hit, ${lv}-level, 64-page hot set`;
    const batch = find(rows, "translate", g, "x86mmu batch translate");
    const single = find(rows, "translate", g, "x86mmu translateNumber, 1 call/address");
    out.push(atMost(`TLB hit, batch, ${lv}-level: ≤ 2 ns/address`, batch?.ns, 2, ns));
    if (lv === 4) out.push(atLeast(`TLB hit, batch, 4-level: ≥ 3× the minimal walker (shared yardstick)`, batch?.ratio, 3, x));
    else out.push(notMeasured("TLB hit, batch, 5-level: ≥ 3× the minimal walker", "no 5-level yardstick"));
    out.push(atMost(`TLB hit, single call (number), ${lv}-level: ≤ 10 ns`, single?.ns, 10, ns));
  }
  const hotMiss = find(rows, "translate", "TLB miss, hot tables (16 MiB, 4K pages), 4-level", "x86mmu batch translate");
  out.push(atMost("page walk, TLB miss, batch, hot tables (4-level): ≤ 8 ns", hotMiss?.ns, 8, ns));
  for (const [g, label] of [
    ["TLB miss, 1 GiB random, 4K pages, 4-level", "4K pages"],
    ["TLB miss, 1 GiB random, 2M pages, 4-level", "2M pages"],
  ] as const) {
    const core = find(rows, "translate", g, "x86mmu batch translate");
    const min = find(rows, "translate", g, Y);
    const full = find(rows, "translate", g, "baseline: full TS walker");
    if (min) out.push(atMost(`page walk, 1 GiB random, ${label}: ≤ 1.2× the minimal walker's time`, core ? core.ns / min.ns : undefined, 1.2, x));
    else out.push(notMeasured(`page walk, 1 GiB random, ${label}: ≤ 1.2× the minimal walker's time`, "no 2 MiB-page yardstick"));
    out.push(atLeast(`page walk, 1 GiB random, ${label}: ≥ 1.5× faster than the full TS walker`, core && full ? full.ns / core.ns : undefined, 1.5, x));
  }
  const load8 = find(rows, "access", "fused load, 8 bytes, TLB hit", "x86mmu batch load");
  out.push(atMost("fused translate-and-load, 8 bytes, TLB hit, batch: ≤ 3 ns", load8?.ns, 3, ns));
  const vv = find(rows, "copy", "1 MiB", "VmReader → VmWriter (VM space to VM space)");
  out.push(atLeast("copy 1 MiB, gated VmReader → VmWriter: ≥ 0.7 of memory.copy", vv?.ratio, 0.7, x));
  const vh = find(rows, "copy", "1 MiB", "VmReader → host Uint8Array");
  out.push(atLeast("copy 1 MiB, gated VmReader → host Uint8Array: ≥ 0.7 of Uint8Array.set", vh?.ratio, 0.7, x));
  for (const name of ["gated copy 64 B, VM → VM, tokens created per copy", "gated copy 64 B, VM → host, one reader token", "gated copy 64 B, host → VM, one writer token"]) {
    const one = find(rows, "owner", "1 registered token", name);
    const many = find(rows, "owner", "10000 registered tokens", name);
    out.push(atMost(`owner check, 10,000 tokens ≤ 2× the cost with 1 (${name})`, one && many ? many.ns / one.ns : undefined, 2, x));
  }
  const m1k = find(rows, "scale", "map 4 KiB pages", "PageTable.map, 1000 pages");
  const m1m = find(rows, "scale", "map 4 KiB pages", "PageTable.map, 1000000 pages");
  out.push(atMost("map: per-map cost at 1M pages ≤ 2× that at 1K", m1k && m1m ? m1m.ns / m1k.ns : undefined, 2, x));
  const t256 = find(rows, "scale", "touch frames", "touch 256 MiB (65536 frames)");
  const t2g = find(rows, "scale", "touch frames", "touch 2 GiB (524288 frames)");
  out.push(
    t2g
      ? atMost("touch 2 GiB works, per-frame cost flat (2 GiB per frame ≤ 2× 256 MiB per frame)", t256 ? t2g.ns / t256.ns : undefined, 2, x)
      : { target: "touch 2 GiB works, per-frame cost flat", measured: "did not complete", verdict: "missed" },
  );
  const sc = find(rows, "scenario", "10000 generated scenarios", "CoreEngine: parse + run");
  out.push(atLeast("scenario runner: ≥ 5,000 scenarios/s (parse + run)", sc?.perSec, 5000, (v) => `${v.toFixed(0)}/s`));
  return out;
}
