/**
 * Issue 13, defects 9 and 11 (in part): every error is an X86MmuError,
 * ScenarioError and MemViewError included; a scenario the processor could not
 * be in (CR3 with a bit at or above MAXPHYADDR: the MOV would #GP) is refused
 * by name, and the scenarios after it still run, on either engine.
 */
import { describe, it, expect } from "vitest";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../src/cli/main.js";
import { X86MmuError, ScenarioError, MemViewError, parseScenario } from "../src/index.js";

describe("typed errors", () => {
  it("ScenarioError and MemViewError are X86MmuErrors with a code", () => {
    expect(() => parseScenario({})).toThrow(X86MmuError);
    try {
      parseScenario({ name: "x" });
    } catch (e) {
      expect(e).toBeInstanceOf(ScenarioError);
      expect((e as X86MmuError).code).toBe("SCENARIO_FORMAT");
      expect((e as Error).name).toBe("ScenarioError");
    }
    expect(new MemViewError("m")).toBeInstanceOf(X86MmuError);
  });

  it("a CR3 beyond MAXPHYADDR is refused by name, and the next scenario still runs", () => {
    const bad = { name: "bad cr3", cpu: { cr0: "0x80010033", cr3: "0x10000000000", cr4: "0x20", efer: "0xd00", maxphyaddr: 36 }, memory: [], accesses: [{ va: "0x0", op: "read", size: 1, cpl: 0 }] };
    const good = { name: "good", cpu: { cr0: "0x10033", cr3: "0x0", cr4: "0x0", efer: "0x0" }, memory: [], accesses: [{ va: "0x10", op: "read", size: 1, cpl: 0 }] };
    const file = join(mkdtempSync(join(tmpdir(), "x86mmu-")), "two.jsonl");
    writeFileSync(file, JSON.stringify(bad) + "\n" + JSON.stringify(good) + "\n");
    for (const engine of ["core", "reference"]) {
      let out = "";
      let err = "";
      expect(main(["run", file, "--engine", engine], (s) => void (out += s), (s) => void (err += s))).toBe(1);
      expect(err).toContain('scenario "bad cr3" cpu.cr3: sets bits at or above MAXPHYADDR (36)');
      expect(JSON.parse(out)).toEqual({ name: "good", results: [{ ok: true, pa: "0x10", value: "0x0" }], memory: [] });
    }
  });
});
