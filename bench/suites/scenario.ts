/**
 * Scenario runner: 10,000 generated scenarios (docs/scenario-format.md) as
 * one JSONL text, parsed and run as `x86mmu run` does (minus file I/O), on
 * the core (CoreEngine) and, as the baseline, the reference engine. Each
 * scenario: a 4-level tree with a few 4 KiB pages and one 2 MiB page, random
 * flags and control bits, four random accesses (some fault, some cross a page).
 */

import { x86 } from "../lib.js";
import { manualRow, rng, timeNs, type Ctx } from "../harness.js";

const COUNT = 10000;
const hex = (v: number | bigint) => "0x" + v.toString(16);

function generate(count: number): string {
  const rand = rng(4242);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const lines: string[] = [];
  for (let s = 0; s < count; s++) {
    const cr4 = 0x20 | (rand() < 0.5 ? 1 << 20 : 0) | (rand() < 0.5 ? 1 << 21 : 0);
    const cr0 = rand() < 0.8 ? 0x80010033 : 0x80000033;
    const ptes: string[] = [];
    for (let i = 0; i < 8; i++) {
      let f = rand() < 0.9 ? 1 : 0;
      if (rand() < 0.7) f |= 2;
      if (rand() < 0.6) f |= 4;
      let e = BigInt(0x10000 + i * 0x1000) | BigInt(f);
      if (rand() < 0.2) e |= 1n << 63n;
      ptes.push(hex(e));
    }
    const memory = [
      { paddr: "0x1000", qwords: ["0x2007"] },
      { paddr: "0x2000", qwords: ["0x3007"] },
      { paddr: "0x3000", qwords: ["0x4007", hex(0x200000 | 0x87 | (rand() < 0.3 ? 0 : 0))] },
      { paddr: "0x4000", qwords: ptes },
      { paddr: "0x10000", qwords: [hex(s), "0x1122334455667788"] },
    ];
    const accesses = [];
    for (let a = 0; a < 4; a++) {
      const op = pick(["read", "read", "write", "fetch"] as const);
      const size = op === "fetch" ? 1 : pick([1, 2, 4, 8] as const);
      const va = rand() < 0.25 ? 0x200000 + Math.floor(rand() * 0x200000) : Math.floor(rand() * 0x8000);
      const acc: Record<string, unknown> = { va: hex(va), op, size, cpl: rand() < 0.5 ? 3 : 0 };
      if (rand() < 0.2) acc.ac = true;
      if (op === "write") acc.value = hex(Math.floor(rand() * 256));
      accesses.push(acc);
    }
    lines.push(JSON.stringify({ name: `gen ${s}`, cpu: { cr0: hex(cr0), cr3: "0x1000", cr4: hex(cr4), efer: "0xd00", maxphyaddr: 40 }, memory, accesses }));
  }
  return lines.join("\n") + "\n";
}

export async function run(ctx: Ctx): Promise<void> {
  const text = generate(COUNT);
  const parsed = x86.parseScenarioText(text, "generated.jsonl");
  if (parsed.length !== COUNT) throw new Error("bench: generated scenarios did not parse");
  const core = new x86.CoreEngine();
  const ref = new x86.ReferenceEngine();
  // Both engines must agree (the same work is measured).
  const show = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? hex(x) : x));
  for (let i = 0; i < 300; i++) {
    const a = show(core.run(parsed[i]!));
    const b = show(ref.run(parsed[i]!));
    if (a !== b) throw new Error(`bench: engines disagree on generated scenario ${i}:\n${a}\n${b}`);
  }
  const reps = ctx.quick ? 1 : 5;
  // --quick runs the (slow) reference baseline over the first 1,000 scenarios only.
  const refCount = ctx.quick ? 1000 : COUNT;
  const refText = text.split("\n").slice(0, refCount).join("\n") + "\n";
  const group = `${COUNT} generated scenarios`;
  for (let i = 0; i < 2; i++) for (const s of parsed.slice(0, 1000)) core.run(s); // warm-up
  const base = "baseline: ReferenceEngine: parse + run";
  manualRow(ctx, { suite: "scenario", group, name: base, unit: "scenario", units: refCount, reps }, () => ({
    ns: timeNs(() => {
      for (const s of x86.parseScenarioText(refText, "generated.jsonl")) ref.run(s);
    }),
  }));
  manualRow(ctx, { suite: "scenario", group, name: "CoreEngine: parse + run", unit: "scenario", units: COUNT, reps, baseline: base }, () => ({
    ns: timeNs(() => {
      for (const s of x86.parseScenarioText(text, "generated.jsonl")) core.run(s);
    }),
  }));
  manualRow(ctx, { suite: "scenario", group, name: "CoreEngine: run only (parsed)", unit: "scenario", units: COUNT, reps, baseline: base }, () => ({
    ns: timeNs(() => {
      for (const s of parsed) core.run(s);
    }),
  }));
  manualRow(ctx, { suite: "scenario", group, name: "parseScenarioText only", unit: "scenario", units: COUNT, reps }, () => ({
    ns: timeNs(() => void x86.parseScenarioText(text, "generated.jsonl")),
  }));
}
