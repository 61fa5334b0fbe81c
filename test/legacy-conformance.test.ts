/**
 * Legacy paging modes (scenario format version 2: 32-bit paging, PAE paging,
 * paging off) against the legacy conformance corpus: 600 scenarios with QEMU
 * 7.2 TCG's answers, corrected to the SDM where QEMU departs from it
 * (test/fixtures/conformance/README.md); plus the hand-derived cases of
 * test/sdm/cases-legacy.ts for what the corpus does not hold, and random
 * legacy scenarios (test/helpers/random-scenario.ts). Every field of every
 * result must match; `walk` (trace output) is not compared.
 *
 * Engines: both, the reference walker and the WebAssembly core (ENGINES; an
 * engine with `ready: false` has its tests registered as skipped, which is
 * how the core was held back until it ran the legacy modes).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseScenario, parseScenarioText } from "../src/scenario/parse.js";
import { formatResult } from "../src/scenario/format.js";
import { ReferenceEngine } from "../src/reference/engine.js";
import { CoreEngine } from "../src/scenario/core-engine.js";
import type { ScenarioEngine } from "../src/scenario/types.js";
import { legacyCases } from "./sdm/cases-legacy.js";
import { legacyScenarioArb } from "./helpers/random-scenario.js";

const ENGINES: { name: string; ready: boolean; make: () => ScenarioEngine }[] = [
  { name: "reference", ready: true, make: () => new ReferenceEngine() },
  { name: "core", ready: true, make: () => new CoreEngine() },
];

const dir = fileURLToPath(new URL("./fixtures/conformance/", import.meta.url));
const scenarioText = readFileSync(dir + "legacy.scenarios.jsonl", "utf8");
const expectedLines = readFileSync(dir + "legacy.expected.jsonl", "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "");
const CATEGORIES = ["legacy32", "pse", "pae", "pae-rsvd", "nopaging", "legacy-ad", "legacy-cross", "legacy-alias"];

function category(name: string): string {
  return name.split(" ")[0] ?? name;
}

/** Drops `walk` from every result, so that trace output never affects the comparison. */
function withoutWalk(o: unknown): unknown {
  const r = JSON.parse(JSON.stringify(o)) as { results?: Array<Record<string, unknown>> };
  for (const x of r.results ?? []) delete x.walk;
  return r;
}

describe("legacy conformance corpus", () => {
  it("has 600 scenarios, 75 per category, and 600 expected results in the same order", () => {
    const scenarios = parseScenarioText(scenarioText, "legacy.scenarios.jsonl");
    expect(scenarios).toHaveLength(600);
    expect(expectedLines).toHaveLength(600);
    for (const c of CATEGORIES) expect(scenarios.filter((s) => category(s.name) === c), c).toHaveLength(75);
    scenarios.forEach((s, i) => expect((JSON.parse(expectedLines[i]!) as { name: string }).name).toBe(s.name));
  });
});

for (const engine of ENGINES) {
  const suite = engine.ready ? describe : describe.skip;
  const why = engine.ready ? "" : " (skipped: engine not ready for the legacy modes)";

  suite(`${engine.name} engine vs. the legacy corpus${why}`, () => {
    const scenarios = parseScenarioText(scenarioText, "legacy.scenarios.jsonl");

    for (const trace of [false, true]) {
      it(`matches every field of every scenario${trace ? " (with --trace)" : ""}`, () => {
        const e = engine.make();
        const counts = new Map<string, { pass: number; total: number }>();
        const failures: string[] = [];
        scenarios.forEach((s, i) => {
          const expected = JSON.parse(expectedLines[i]!) as unknown;
          const actual = withoutWalk(formatResult(e.run(s, { trace }), { trace }));
          const c = counts.get(category(s.name)) ?? { pass: 0, total: 0 };
          c.total++;
          if (JSON.stringify(actual) === JSON.stringify(expected)) c.pass++;
          else if (failures.length < 10) {
            failures.push(`line ${i + 1} ${s.name}\n  expected ${JSON.stringify(expected)}\n  actual   ${JSON.stringify(actual)}`);
          }
          counts.set(category(s.name), c);
        });
        const summary = [...counts].map(([k, c]) => `${k} ${c.pass}/${c.total}`).join(", ");
        const passed = [...counts.values()].reduce((n, c) => n + c.pass, 0);
        expect(passed, `per category: ${summary}\nfirst failures:\n${failures.join("\n")}`).toBe(600);
      });
    }

    it("deep-equals the expected objects (key order aside)", () => {
      const e = engine.make();
      scenarios.forEach((s, i) => {
        expect(formatResult(e.run(s)), `line ${i + 1} ${s.name}`).toEqual(JSON.parse(expectedLines[i]!));
      });
    });
  });

  suite(`${engine.name} engine, hand-derived legacy SDM cases${why}`, () => {
    for (const c of legacyCases) {
      it(c.rule, () => {
        const out = formatResult(engine.make().run(parseScenario(c.scenario)));
        expect(out).toEqual(c.expected);
      });
    }
  });
}

describe("hand-derived legacy cases are well-formed", () => {
  it("have unique titles, one result per access, and memory changes ascending in canonical hex", () => {
    const canon = /^0x(0|[1-9a-f][0-9a-f]*)$/;
    const seen = new Set<string>();
    for (const c of legacyCases) {
      expect(seen.has(c.rule), c.rule).toBe(false);
      seen.add(c.rule);
      expect(c.expected.results.length, c.rule).toBe(c.scenario.accesses.length);
      let prev = -1n;
      for (const m of c.expected.memory) {
        expect(m.paddr, c.rule).toMatch(canon);
        expect(m.value, c.rule).toMatch(canon);
        expect(BigInt(m.paddr) > prev, c.rule).toBe(true);
        expect(BigInt(m.paddr) % 8n, c.rule).toBe(0n);
        prev = BigInt(m.paddr);
      }
    }
  });
});

describe("reference walker: legacy trace steps", () => {
  const trace = (input: unknown) =>
    formatResult(new ReferenceEngine().run(parseScenario(input), { trace: true }), { trace: true }) as {
      results: Array<{ walk: Array<Record<string, unknown>> }>;
    };

  it("names the levels PDE, PTE with 32-bit paging (4-byte entries, 1024 per table)", () => {
    const out = trace({
      cpu: { cr0: "0x80000011", cr3: "0x1000", cr4: "0x0", efer: "0x0" },
      memory: [{ paddr: "0x1ff8", qwords: ["0x200700000000"] }, { paddr: "0x2ff8", qwords: ["0x300500000000"] }],
      accesses: [{ va: "0xfffff123", op: "write", size: 1, cpl: 3, value: "0x1" }],
    });
    expect(out.results[0]!.walk).toEqual([
      { level: "PDE", table: "0x1000", index: 1023, entry_addr: "0x1ffc", entry: "0x2007", allows: ["W", "U", "X"] },
      { level: "PTE", table: "0x2000", index: 1023, entry_addr: "0x2ffc", entry: "0x3005", allows: ["U", "X", "leaf 4K"], stop: "write to a read-only page" },
    ]);
  });

  it("names the levels PDPTE, PDE, PTE with PAE paging; a 4 MiB / 2 MiB leaf says so", () => {
    const pae = trace({
      cpu: { cr0: "0x80000011", cr3: "0x102f", cr4: "0x20", efer: "0x800" },
      memory: [{ paddr: "0x1020", qwords: ["0x0", "0x2001"] }, { paddr: "0x2008", qwords: ["0x80000000002000e3"] }],
      accesses: [{ va: "0x40200000", op: "fetch" }],
    });
    expect(pae.results[0]!.walk.map((w) => [w.level, w.index, w.entry_addr, w.allows])).toEqual([
      ["PDPTE", 1, "0x1028", ["W", "U", "X"]],
      ["PDE", 1, "0x2008", ["W", "leaf 2M"]],
    ]);
    expect(pae.results[0]!.walk[1]!.stop).toBe("execute-disable");
    const pse = trace({
      cpu: { cr0: "0x80000011", cr3: "0x1000", cr4: "0x10", efer: "0x0" },
      memory: [{ paddr: "0x1000", qwords: ["0x83"] }],
      accesses: [{ va: "0x10", op: "read" }],
    });
    expect(pse.results[0]!.walk).toEqual([{ level: "PDE", table: "0x1000", index: 0, entry_addr: "0x1000", entry: "0x83", allows: ["W", "X", "leaf 4M"] }]);
  });

  it("shows the failing PDPTE register for a #GP, and no step with paging off", () => {
    const gp = trace({
      cpu: { cr0: "0x80000011", cr3: "0x1000", cr4: "0x20", efer: "0x0" },
      memory: [{ paddr: "0x1000", qwords: ["0x2001", "0x0", "0x2003"] }],
      accesses: [{ va: "0x0", op: "read" }],
    });
    expect(gp.results[0]).toMatchObject({ ok: false, fault: "GP", error_code: "0x0" });
    expect(gp.results[0]!.walk).toHaveLength(1);
    expect(gp.results[0]!.walk[0]).toMatchObject({ level: "PDPTE", index: 2, entry_addr: "0x1010", entry: "0x2003" });
    expect(gp.results[0]!.walk[0]!.stop).toMatch(/reserved bit.*#GP/);
    const off = trace({ cpu: { cr0: "0x0", cr3: "0x0", cr4: "0x0", efer: "0x0" }, memory: [], accesses: [{ va: "0xfff", op: "read", size: 2 }] });
    expect(off.results[0]).toEqual({ ok: true, pa: "0xfff", value: "0x0", walk: [] });
  });
});

describe("random legacy scenarios", () => {
  const numRuns = Number(process.env.X86MMU_PROPERTY_RUNS ?? "") || 300;
  const ready = ENGINES.filter((e) => e.ready);

  it(`parse, run on every ready engine, and list changed memory ascending (${numRuns} runs)`, () => {
    const engines = ready.map((e) => e.make());
    fc.assert(
      fc.property(legacyScenarioArb, (json) => {
        const s = parseScenario(json);
        const outs = engines.map((e) => formatResult(e.run(s)) as { results: unknown[]; memory: Array<{ paddr: string }> });
        for (const out of outs) {
          expect(out.results).toHaveLength(s.accesses.length);
          let prev = -1n;
          for (const m of out.memory) {
            expect(BigInt(m.paddr) > prev).toBe(true);
            prev = BigInt(m.paddr);
          }
        }
        // Engines that are ready must agree on every field.
        for (const out of outs.slice(1)) expect(out).toStrictEqual(outs[0]);
      }),
      { numRuns },
    );
  }, 120_000);
});
