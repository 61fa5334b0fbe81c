/**
 * Nested paging (AMD SVM NPT) against its conformance corpus: 400 scenarios
 * with QEMU 7.2 TCG's answers (test/fixtures/conformance/README.md), on both
 * engines, with and without --trace. Every field of every result must match;
 * `walk`/`nested_walk` (trace output) are not compared. Hand-derived cases for
 * what the corpus cannot hold are in test/nested-api.test.ts (the TLB, ASIDs,
 * the guest root's nested path, keys, MMIO) and below (a non-canonical guest
 * address, a guest root whose nested entry is missing).
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { parseScenario, parseScenarioText } from "../src/scenario/parse.js";
import { formatResult } from "../src/scenario/format.js";
import { ReferenceEngine } from "../src/reference/engine.js";
import { CoreEngine } from "../src/scenario/core-engine.js";
import type { ScenarioEngine } from "../src/scenario/types.js";

const ENGINES: { name: string; make: () => ScenarioEngine }[] = [
  { name: "reference", make: () => new ReferenceEngine() },
  { name: "core", make: () => new CoreEngine() },
];

const dir = fileURLToPath(new URL("./fixtures/conformance/", import.meta.url));
const scenarioText = readFileSync(dir + "npt.scenarios.jsonl", "utf8");
const expectedLines = readFileSync(dir + "npt.expected.jsonl", "utf8").split("\n").filter((l) => l.trim() !== "");
const CATEGORIES = ["npt-basic", "npt-perm", "npt-rsvd", "npt-ad", "npt-large", "npt-order", "npt-cross", "npt-alias", "npt-la57"];
const category = (name: string) => name.split(" ")[0] ?? name;

/** Drops the trace output from every result, so that it never affects the comparison. */
function withoutWalk(o: unknown): unknown {
  const r = JSON.parse(JSON.stringify(o)) as { results?: Array<Record<string, unknown>> };
  for (const x of r.results ?? []) {
    delete x.walk;
    delete x.nested_walk;
    delete x.nestedWalk;
  }
  return r;
}

describe("nested-paging conformance corpus", () => {
  it("has 400 scenarios in nine categories and 400 expected results in the same order", () => {
    const scenarios = parseScenarioText(scenarioText, "npt.scenarios.jsonl");
    expect(scenarios).toHaveLength(400);
    expect(expectedLines).toHaveLength(400);
    for (const c of CATEGORIES) expect(scenarios.filter((s) => category(s.name) === c).length, c).toBeGreaterThanOrEqual(44);
    scenarios.forEach((s, i) => expect((JSON.parse(expectedLines[i]!) as { name: string }).name).toBe(s.name));
  });
});

for (const engine of ENGINES) {
  describe(`${engine.name} engine vs. the nested-paging corpus`, () => {
    const scenarios = parseScenarioText(scenarioText, "npt.scenarios.jsonl");
    for (const trace of [false, true]) {
      it(`matches every field of every scenario${trace ? " (with --trace)" : ""}`, () => {
        const e = engine.make();
        const failures: string[] = [];
        const counts = new Map<string, number>();
        scenarios.forEach((s, i) => {
          const expected = JSON.stringify(JSON.parse(expectedLines[i]!));
          const actual = JSON.stringify(withoutWalk(formatResult(e.run(s, { trace }), { trace })));
          if (actual === expected) counts.set(category(s.name), (counts.get(category(s.name)) ?? 0) + 1);
          else if (failures.length < 10) failures.push(`line ${i + 1} ${s.name}\n  expected ${expected}\n  actual   ${actual}`);
        });
        expect(failures).toEqual([]);
        expect([...counts.values()].reduce((a, b) => a + b, 0)).toBe(400);
      });
    }
  });

  describe(`${engine.name} engine: hand-derived nested cases (APM 15.25)`, () => {
    // Nested tables: nPML4 0x100000 → nPDPT 0x101000 → nPD 0x102000 → nPT 0x103000, whose
    // entry i maps guest-physical page i to host 0x400000 + 0x1000 i (user, writable).
    // Guest tables (guest-physical): PML4 0x1000 → PDPT 0x2000 → PD 0x3000 → PT 0x4000 → data 0x5000.
    const base = (extra: Record<string, unknown> = {}) => ({
      name: "npt-hand",
      cpu: { cr0: "0x80010033", cr3: "0x1000", cr4: "0x20", efer: "0xd00", maxphyaddr: 48, npt: { ncr3: "0x100000", nxe: true } },
      memory: [
        { paddr: "0x100000", qwords: ["0x101007"] },
        { paddr: "0x101000", qwords: ["0x102007"] },
        { paddr: "0x102000", qwords: ["0x103007"] },
        { paddr: "0x103000", qwords: ["0x400007", "0x401007", "0x402007", "0x403007", "0x404007", "0x405007"] },
        { paddr: "0x401000", qwords: ["0x2007"] },
        { paddr: "0x402000", qwords: ["0x3007"] },
        { paddr: "0x403000", qwords: ["0x4007"] },
        { paddr: "0x404000", qwords: ["0x5007"] },
        { paddr: "0x405000", qwords: ["0x1122334455667788"] },
      ],
      accesses: [{ va: "0x0", op: "read", size: 8, cpl: 0 }],
      ...extra,
    });

    it("translates through both dimensions (guest VA 0 → gPA 0x5000 → hPA 0x405000)", () => {
      const r = formatResult(engine.make().run(parseScenario(base()))) as { results: unknown[] };
      expect(r.results[0]).toEqual({ ok: true, pa: "0x405000", value: "0x1122334455667788" });
    });

    it("a non-canonical guest address is #GP(0) with nothing walked (no flag set anywhere)", () => {
      const r = formatResult(engine.make().run(parseScenario(base({ accesses: [{ va: "0x800000000000", op: "read", size: 1, cpl: 0 }] })))) as {
        results: unknown[];
        memory: unknown[];
      };
      expect(r.results[0]).toEqual({ ok: false, fault: "GP", error_code: "0x0" });
      expect(r.memory).toEqual([]);
    });

    it("the guest root's nested entry missing: NPF, EXITINFO1 0x200000006, EXITINFO2 = the PML4E's gPA", () => {
      const s = base();
      s.memory[3] = { paddr: "0x103000", qwords: ["0x400007", "0x0", "0x402007", "0x403007", "0x404007", "0x405007"] };
      const r = formatResult(engine.make().run(parseScenario(s))) as { results: unknown[]; memory: unknown[] };
      // Not present (P=0), a user write (RW, US), while translating a guest table entry (bit 33); the
      // nested PML4E, PDPTE and PDE got A on the way (non-leaf entries, present, no reserved bit).
      expect(r.results[0]).toEqual({ ok: false, fault: "NPF", exitinfo1: "0x200000006", exitinfo2: "0x1000" });
      expect(r.memory).toEqual([
        { paddr: "0x100000", value: "0x101027" },
        { paddr: "0x101000", value: "0x102027" },
        { paddr: "0x102000", value: "0x103027" },
      ]);
      // With --trace, the guest level whose nested walk faulted is labelled with that entry's gPA.
      const t = formatResult(engine.make().run(parseScenario(s), { trace: true }), { trace: true }) as {
        results: { nested_walk: { levels: { gpa: string; nested: { gpa: string }[]; guest?: unknown }[] }[] }[];
      };
      const level = t.results[0]!.nested_walk[0]!.levels[0]!;
      expect(level.gpa).toBe("0x1000");
      expect(level.guest).toBeUndefined();
      expect(level.nested.map((n) => n.gpa)).toEqual(["0x1000", "0x1000", "0x1000", "0x1000"]);
    });
  });
}
