/**
 * Both engines (the WebAssembly core behind `x86mmu run`, and the reference
 * walker) against the conformance corpus: 900 scenarios with
 * QEMU 7.2 TCG's answers (test/fixtures/conformance/README.md). Every field of
 * every result must match; `walk` (trace output) is not compared.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseScenarioText } from "../src/scenario/parse.js";
import { formatResult } from "../src/scenario/format.js";
import { ReferenceEngine } from "../src/reference/engine.js";
import { CoreEngine } from "../src/scenario/core-engine.js";
import type { ScenarioEngine } from "../src/scenario/types.js";

const ENGINES: [string, () => ScenarioEngine][] = [
  ["core", () => new CoreEngine()],
  ["reference", () => new ReferenceEngine()],
];

const dir = fileURLToPath(new URL("./fixtures/conformance/", import.meta.url));
const scenarioText = readFileSync(dir + "qemu-tcg.scenarios.jsonl", "utf8");
const expectedLines = readFileSync(dir + "qemu-tcg.expected.jsonl", "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "");

function category(name: string): string {
  return name.split(" ")[0] ?? name;
}

/** Drops `walk` from every result, so that trace output never affects the comparison. */
function withoutWalk(o: unknown): unknown {
  const r = JSON.parse(JSON.stringify(o)) as { results?: Array<Record<string, unknown>> };
  for (const x of r.results ?? []) delete x.walk;
  return r;
}

describe.each(ENGINES)("%s engine vs. QEMU conformance corpus", (_name, makeEngine) => {
  const scenarios = parseScenarioText(scenarioText, "qemu-tcg.scenarios.jsonl");

  it("has 900 scenarios and 900 expected results", () => {
    expect(scenarios).toHaveLength(900);
    expect(expectedLines).toHaveLength(900);
  });

  for (const trace of [false, true]) {
    it(`matches every field of every scenario${trace ? " (with --trace)" : ""}`, () => {
      const engine = makeEngine();
      const counts = new Map<string, { pass: number; total: number }>();
      const failures: string[] = [];
      scenarios.forEach((s, i) => {
        const expected = JSON.parse(expectedLines[i]!) as unknown;
        const actual = withoutWalk(formatResult(engine.run(s, { trace }), { trace }));
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
      expect(passed, `per category: ${summary}\nfirst failures:\n${failures.join("\n")}`).toBe(900);
    });
  }

  it("deep-equals the expected objects (key order aside)", () => {
    const engine = makeEngine();
    scenarios.forEach((s, i) => {
      expect(formatResult(engine.run(s)), `line ${i + 1} ${s.name}`).toEqual(JSON.parse(expectedLines[i]!));
    });
  });
});

describe("reference walker on the format's own example", () => {
  it("gives the output docs/scenario-format.md shows", () => {
    const input = {
      name: "user write to a read-only page",
      cpu: { cr0: "0x80010033", cr3: "0x1000", cr4: "0x3006a0", efer: "0xd00", pkru: "0x0", maxphyaddr: 46 },
      memory: [
        { paddr: "0x1000", qwords: ["0x2007"] },
        { paddr: "0x2000", qwords: ["0x3007"] },
        { paddr: "0x3000", qwords: ["0x4007"] },
        { paddr: "0x4000", qwords: ["0x5005"] },
        { paddr: "0x5000", fill: "0xcccccccccccccccc", count: 512 },
      ],
      accesses: [
        { va: "0x0", op: "read", size: 8, cpl: 3 },
        { va: "0x10", op: "write", size: 4, cpl: 3, value: "0xdeadbeef" },
        { va: "0x20", op: "fetch", cpl: 0 },
      ],
    };
    const text = JSON.stringify(input);
    const [scenario] = parseScenarioText(text, "example.json");
    expect(formatResult(new ReferenceEngine().run(scenario!))).toEqual({
      name: "user write to a read-only page",
      results: [
        { ok: true, pa: "0x5000", value: "0xcccccccccccccccc" },
        { ok: false, fault: "PF", error_code: "0x7", cr2: "0x10" },
        { ok: false, fault: "PF", error_code: "0x11", cr2: "0x20" },
      ],
      memory: [
        { paddr: "0x1000", value: "0x2027" },
        { paddr: "0x2000", value: "0x3027" },
        { paddr: "0x3000", value: "0x4027" },
        { paddr: "0x4000", value: "0x5025" },
      ],
    });
    const traced = formatResult(new ReferenceEngine().run(scenario!, { trace: true }), { trace: true }) as {
      results: Array<{ walk: Array<Record<string, unknown>> }>;
    };
    expect(traced.results[0]!.walk.map((w) => w.level)).toEqual(["PML4", "PDPT", "PD", "PT"]);
    expect(traced.results[0]!.walk[3]).toEqual({
      level: "PT",
      table: "0x4000",
      index: 0,
      entry_addr: "0x4000",
      entry: "0x5005",
      allows: ["U", "X", "leaf 4K"],
    });
    expect(traced.results[1]!.walk[3]!.stop).toBe("write to a read-only page");
  });
});

/** Rules the corpus does not exercise, checked by hand against the SDM / the documented QEMU choice. */
describe("reference walker, hand-written cases", () => {
  const run = (input: unknown): unknown => formatResult(new ReferenceEngine().run(parseScenarioText(JSON.stringify(input), "x.json")[0]!));

  it("IA32_PKRS write-disable denies supervisor writes only when CR0.WP = 1 (SDM 4.6.2)", () => {
    const scenario = (cr0: string) => ({
      name: "pks wd",
      cpu: { cr0, cr3: "0x1000", cr4: "0x1000020", efer: "0x500", pkrs: "0x8" },
      memory: [
        { paddr: "0x1000", qwords: ["0x2003"] },
        { paddr: "0x2000", qwords: ["0x3003"] },
        { paddr: "0x3000", qwords: ["0x4003"] },
        { paddr: "0x4000", qwords: ["0x800000000005001"] },
      ],
      accesses: [{ va: "0x8", op: "write", size: 1, value: "0xab" }, { va: "0x8", op: "read" }],
    });
    expect(run(scenario("0x80000001"))).toMatchObject({
      results: [{ ok: true, pa: "0x5008" }, { ok: true, pa: "0x5008", value: "0xab" }],
    });
    expect(run(scenario("0x80010001"))).toMatchObject({
      results: [{ ok: false, fault: "PF", error_code: "0x23", cr2: "0x8" }, { ok: true, value: "0x0" }],
    });
  });

  it("a canonical first page is translated before a non-canonical second page raises #GP (QEMU, per page)", () => {
    const out = run({
      name: "canon cross",
      cpu: { cr0: "0x80000001", cr3: "0x1000", cr4: "0x20", efer: "0x500" },
      memory: [
        { paddr: "0x17f8", qwords: ["0x2003"] },
        { paddr: "0x2ff8", qwords: ["0x3003"] },
        { paddr: "0x3ff8", qwords: ["0x4003"] },
        { paddr: "0x4ff8", qwords: ["0x5003"] },
      ],
      accesses: [{ va: "0x7ffffffffffc", op: "write", size: 8, value: "0x1122334455667788" }],
    });
    expect(out).toEqual({
      name: "canon cross",
      results: [{ ok: false, fault: "GP", error_code: "0x0" }],
      memory: [
        { paddr: "0x17f8", value: "0x2023" },
        { paddr: "0x2ff8", value: "0x3023" },
        { paddr: "0x3ff8", value: "0x4023" },
        { paddr: "0x4ff8", value: "0x5063" },
      ],
    });
  });
});
