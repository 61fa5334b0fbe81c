/**
 * The TLB extension of the scenario format (docs/scenario-format.md, "TLB
 * steps"): MOV to CR3, INVLPG, INVPCID, a store with no invalidation and a
 * full flush between accesses, with the TLB kept. Expected results are
 * derived by hand from SDM 4.10.4 (what each instruction invalidates) and
 * 4.10.2 (a translation is cached with the PCID it was made under; global
 * ones survive a MOV to CR3).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ReferenceEngine, ScenarioError, X86MmuError, parseScenario } from "../src/index.js";
import { main } from "../src/cli/main.js";
import { root, run, tables } from "./helpers/tlb-scenarios.js";

const read = (va: string) => ({ va, op: "read", size: 8, cpl: 3 });

describe("TLB steps", () => {
  it("a PTE stored without INVLPG keeps serving the old frame; INVLPG ends it; a global page survives MOV to CR3", () => {
    const s = JSON.parse(readFileSync(root + "examples/tlb-stale.json", "utf8")) as object;
    const r = run(s);
    expect(r.results).toEqual([
      { ok: true, pa: "0x5010", value: "0x5555", tlb: "miss" }, // first use: walked
      { ok: true, pa: "0x5010", value: "0x5555", tlb: "hit" },
      { step: "store", ok: true }, // PTE[0] now maps 0x6000, nothing invalidated
      { ok: true, pa: "0x5010", value: "0x5555", tlb: "hit" }, // stale, as SDM 4.10.4.3 allows
      { step: "invlpg", ok: true },
      { ok: true, pa: "0x6010", value: "0x6666", tlb: "miss" }, // walked again: the new PTE
      { ok: true, pa: "0x7010", value: "0x7777", tlb: "miss" },
      { step: "mov_cr3", ok: true }, // flushes non-global entries only
      { ok: true, pa: "0x6010", value: "0x6666", tlb: "miss" },
      { ok: true, pa: "0x7010", value: "0x7777", tlb: "hit" }, // G=1 in the PTE, CR4.PGE=1
    ]);
    // The store's word, then A set by the walk after INVLPG; the global PTE got A (0x7107 -> 0x7127).
    expect(r.memory).toEqual([
      { paddr: "0x1000", value: "0x2027" },
      { paddr: "0x2000", value: "0x3027" },
      { paddr: "0x3000", value: "0x4027" },
      { paddr: "0x4000", value: "0x6027" },
      { paddr: "0x4008", value: "0x7127" },
    ]);
  });

  it("PCIDs keep two address spaces' entries; MOV to CR3 with bit 63 keeps them, INVPCID type 1 drops one PCID's", () => {
    const r = run({
      name: "pcid",
      // CR4: PAE | PGE | PCIDE (bit 17); long mode; CR3 PCID 1.
      cpu: { cr0: "0x80010033", cr3: "0x1001", cr4: "0x200a0", efer: "0xd00" },
      // PT[2] maps va 0x2000 -> 0x8000. (The TLB is direct-mapped by page: two PCIDs' entries for
      // the same page share a slot and evict each other, so the two spaces here use different pages.)
      memory: [...tables.slice(0, 3), { paddr: "0x4000", qwords: ["0x5007", "0x7107", "0x8007"] }],
      accesses: [
        read("0x10"), // PCID 1: miss
        { step: "mov_cr3", value: "0x8000000000001002" }, // PCID 2, bit 63: nothing flushed
        read("0x2010"), // PCID 2: miss
        read("0x10"), // PCID 2 has no entry for page 0 (PCID 1's is not used): miss
        { step: "mov_cr3", value: "0x8000000000001001" }, // back to PCID 1, nothing flushed
        read("0x10"), // PCID 1's entry... was evicted by PCID 2's fill of the same slot: miss
        read("0x10"), // hit
        { step: "mov_cr3", value: "0x8000000000001002" },
        read("0x2010"), // PCID 2's entry survived two switches: hit
        { step: "invpcid", type: 1, pcid: 2 }, // every non-global entry of PCID 2
        read("0x2010"), // miss
        { step: "invpcid", type: 0, pcid: 1, va: "0x0" }, // PCID 1's page 0 only (not current)
        { step: "mov_cr3", value: "0x8000000000001001" },
        read("0x10"), // miss
        { step: "mov_cr3", value: "0x1001" }, // no bit 63: PCID 1's non-global entries go
        read("0x10"), // miss
      ],
    });
    expect(r.results.map((x) => x.tlb ?? x.step)).toEqual([
      "miss", "mov_cr3", "miss", "miss", "mov_cr3", "miss", "hit", "mov_cr3", "hit", "invpcid", "miss", "invpcid", "mov_cr3", "miss", "mov_cr3", "miss",
    ]);
    expect(r.results.every((x) => x.ok === true)).toBe(true);
  });

  it("a full flush drops global entries too", () => {
    const r = run({
      name: "flush",
      cpu: { cr0: "0x80010033", cr3: "0x1000", cr4: "0xa0", efer: "0xd00" },
      memory: tables,
      accesses: [read("0x1010"), { step: "mov_cr3", value: "0x1000" }, read("0x1010"), { step: "flush" }, read("0x1010")],
    });
    expect(r.results.map((x) => x.tlb ?? x.step)).toEqual(["miss", "mov_cr3", "hit", "flush", "miss"]);
  });

  it("what the processor refuses is #GP(0) with nothing changed, and the TLB kept", () => {
    const r = run({
      name: "gp",
      cpu: { cr0: "0x80010033", cr3: "0x1000", cr4: "0xa0", efer: "0xd00", maxphyaddr: 36 },
      memory: tables,
      accesses: [
        read("0x10"),
        { step: "mov_cr3", value: "0x1000000000" }, // bit 36 >= MAXPHYADDR
        { step: "invpcid", type: 0, pcid: 5, va: "0x0" }, // PCID 5 with CR4.PCIDE=0
        { step: "invpcid", type: 0, pcid: 0, va: "0x800000000000" }, // non-canonical
        read("0x10"), // still cached
      ],
    });
    const gp = (step: string) => ({ step, ok: false, fault: "GP", error_code: "0x0" });
    expect(r.results).toEqual([
      { ok: true, pa: "0x5010", value: "0x0", tlb: "miss" },
      gp("mov_cr3"),
      gp("invpcid"),
      gp("invpcid"),
      { ok: true, pa: "0x5010", value: "0x0", tlb: "hit" },
    ]);
  });

  it("steps are checked like accesses: unknown kinds, keys and values are malformed scenarios naming the field", () => {
    const base = { name: "bad", cpu: { cr0: "0x80010033", cr3: "0x1000", cr4: "0x20", efer: "0xd00" }, memory: [] };
    const field = (accesses: unknown[]) => {
      try {
        parseScenario({ ...base, accesses });
      } catch (e) {
        expect(e).toBeInstanceOf(ScenarioError);
        return (e as ScenarioError).field;
      }
      return "accepted";
    };
    expect(field([{ step: "invlpga", va: "0x0" }])).toBe("accesses[0].step");
    expect(field([{ step: "invlpg" }])).toBe("accesses[0].va");
    expect(field([{ step: "invlpg", va: "0x0", pcid: 1 }])).toBe("accesses[0].pcid");
    expect(field([{ step: "invpcid", type: 4 }])).toBe("accesses[0].type");
    expect(field([{ step: "invpcid", type: 1, pcid: 4096 }])).toBe("accesses[0].pcid");
    expect(field([{ step: "store", paddr: "0x1004", value: "0x1" }])).toBe("accesses[0].paddr"); // 8-byte store not aligned
    expect(field([{ step: "store", paddr: "0x1004", value: "0x100", size: 1 }])).toBe("accesses[0].value");
    expect(field([{ step: "flush" }])).toBe("accepted");
  });

  it("a scenario without steps keeps the flush before every access; the reference engine refuses steps by name", () => {
    const plain = run({ name: "plain", cpu: { cr0: "0x80010033", cr3: "0x1000", cr4: "0x20", efer: "0xd00" }, memory: tables, accesses: [read("0x10"), read("0x10")] });
    expect(plain.results[1]).toEqual({ ok: true, pa: "0x5010", value: "0x0" }); // no tlb key
    const s = parseScenario(JSON.parse(readFileSync(root + "examples/tlb-stale.json", "utf8")));
    expect(() => new ReferenceEngine().run(s)).toThrow(X86MmuError);
    expect(() => new ReferenceEngine().run(s)).toThrow(/accesses\[2\]: TLB steps need the core engine/);
  });

  it("explain tells each step, what it evicted, and each access's hit or miss", () => {
    let out = "";
    expect(main(["explain", root + "examples/tlb-stale.json", "--no-color"], (t) => void (out += t), () => {})).toBe(0);
    expect(out).toContain("store 0x6007 (8 bytes) to physical 0x4000, with no invalidation");
    expect(out).toMatch(/INVLPG 0x0: [^\n]*\n {4}evicted 0x0 -> 0x5000 \(4 KiB page/);
    expect(out).toMatch(/MOV to CR3 = 0x1000: [^\n]*\n {4}evicted 0x0 -> 0x6000 /);
    expect(out.match(/TLB hit: no walk/g)?.length).toBe(3);
  });
});
