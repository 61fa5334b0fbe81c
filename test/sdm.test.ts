/**
 * Hand-derived conformance cases for Intel SDM Vol. 3A chapter 4 (4- and
 * 5-level paging). Every expectation in test/sdm/cases-*.ts was derived by
 * hand from the SDM and docs/scenario-format.md, never by running an engine;
 * a disagreement means the engine (or the derivation) must be re-checked
 * against the SDM, not that the expectation should be regenerated.
 */
import { describe, expect, it } from "vitest";
import { engines } from "./helpers/engines.js";
import { sdmCases, sdmGroups } from "./sdm/index.js";

describe("SDM case table", () => {
  it("has unique rule titles", () => {
    const seen = new Set<string>();
    for (const c of sdmCases) {
      expect(seen.has(c.rule), c.rule).toBe(false);
      seen.add(c.rule);
    }
  });

  it("lists expected memory changes in ascending, distinct paddr order, in canonical hex", () => {
    const canon = /^0x(0|[1-9a-f][0-9a-f]*)$/;
    for (const c of sdmCases) {
      let prev = -1n;
      for (const m of c.expected.memory) {
        expect(m.paddr, c.rule).toMatch(canon);
        expect(m.value, c.rule).toMatch(canon);
        const p = BigInt(m.paddr);
        expect(p > prev, `${c.rule}: ${m.paddr} out of order`).toBe(true);
        expect(p % 8n, c.rule).toBe(0n);
        prev = p;
      }
      expect(c.expected.results.length, c.rule).toBe(c.scenario.accesses.length);
      for (const r of c.expected.results) {
        for (const v of Object.values(r)) if (typeof v === "string" && v.startsWith("0x")) expect(v, c.rule).toMatch(canon);
      }
    }
  });
});

for (const engine of engines) {
  describe(`SDM conformance: ${engine.name}`, () => {
    for (const group of sdmGroups) {
      describe(group.topic, () => {
        for (const c of group.cases) {
          it(c.rule, () => {
            const output = engine.runJson(structuredClone(c.scenario));
            expect(output).toEqual(c.expected);
          });
        }
      });
    }
  });
}
