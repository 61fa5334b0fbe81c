/**
 * explain --tlb: the TLB kept across a scenario's accesses. Tables by hand:
 * PML4 0x1000 → PDPT 0x2000 → PD 0x3000 [2] → PT 0x4000, PTE 0 → 0x10000,
 * PTE 1 → 0x11000 (A and D set). Access 1 misses and fills 0x400000; access
 * 2 is on the same page: a hit, no walk; access 3 is on the next page: a miss
 * that fills 0x401000. Nothing is evicted (different slots).
 */
import { describe, it, expect } from "vitest";
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../src/cli/main.js";
import { CoreEngine, parseScenario } from "../src/index.js";

const scenario = {
  name: "tlb",
  cpu: { cr0: "0x80010033", cr3: "0x1000", cr4: "0x20", efer: "0xd00" },
  memory: [
    { paddr: "0x1000", qwords: ["0x2027"] },
    { paddr: "0x2000", qwords: ["0x3027"] },
    { paddr: "0x3010", qwords: ["0x4027"] },
    { paddr: "0x4000", qwords: ["0x10067", "0x11067"] },
  ],
  accesses: [
    { va: "0x400010", op: "read", size: 8, cpl: 3 },
    { va: "0x400ff8", op: "read", size: 8, cpl: 3 },
    { va: "0x401000", op: "write", size: 4, value: "0x1", cpl: 3 },
  ],
};

describe("explain --tlb", () => {
  it("reports per access hit or miss and what was filled", () => {
    const engine = new CoreEngine();
    engine.run(parseScenario(scenario), { trace: true, keepTlb: true });
    const ev = engine.tlbEvents;
    expect(ev.map((e) => e.misses > 0)).toEqual([true, false, true]);
    expect(ev.map((e) => e.filled.map((f) => [f.linear, f.frame]))).toEqual([[[0x400000n, 0x10000n]], [], [[0x401000n, 0x11000n]]]);
    expect(ev.every((e) => e.evicted.length === 0)).toBe(true);
  });

  it("prints it in the explanation, and is refused with the reference engine", () => {
    const dir = mkdtempSync(join(tmpdir(), "x86mmu-"));
    const file = join(dir, "tlb.json");
    writeFileSync(file, JSON.stringify(scenario));
    let text = "";
    expect(main(["explain", file, "--tlb"], (s) => void (text += s), () => {})).toBe(0);
    expect(text.match(/TLB (hit|miss)[^\n]*/g)).toEqual(["TLB miss: walked", "TLB hit: no walk", "TLB miss: walked"]);
    expect(text).toContain("filled  0x400000 -> 0x10000 (4 KiB page, PCID 0;");
    let e = "";
    expect(main(["explain", file, "--tlb", "--engine", "reference"], () => {}, (s) => void (e += s))).toBe(2);
    expect(e).toContain("--tlb needs the core engine");
  });
});
