/**
 * The several-CPU extension of the scenario format (docs/scenario-format.md,
 * "Several CPUs"): `cpus` at the top, `cpu` on an item, the `shootdown`
 * step. Each CPU has its own registers and TLB; memory is one. Expected
 * results are derived by hand from SDM 4.10.5 (another processor's change to
 * the paging structures reaches this processor's TLB only through an
 * invalidation it performs) and 4.10.4 (what INVLPG, MOV to CR3 and INVPCID
 * invalidate), 4.8 (A and D are set in the one memory).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ReferenceEngine, ScenarioError, X86MmuError, parseScenario } from "../src/index.js";
import { main } from "../src/cli/main.js";
import { root, run, tables as walkTables } from "./helpers/tlb-scenarios.js";

/** The shared tables (va 0x0 -> 0x5000, va 0x1000 -> 0x7000, global) and data at 0x5010, 0x6010, 0x7010. */
const tables = [...walkTables, { paddr: "0x5010", qwords: ["0x5555"] }, { paddr: "0x6010", qwords: ["0x6666"] }, { paddr: "0x7010", qwords: ["0x7777"] }];
const cpu = { cr0: "0x80010033", cr3: "0x1000", cr4: "0xa0", efer: "0xd00" }; // PAE, PGE; long mode
const read = (on: number, va: string) => ({ cpu: on, va, op: "read", size: 8, cpl: 3 });

describe("scenarios of several CPUs", () => {
  it("examples/tlb-shootdown.json: CPU 1's stale entry lasts until CPU 0's shootdown", () => {
    const r = run(JSON.parse(readFileSync(root + "examples/tlb-shootdown.json", "utf8")) as object);
    expect(r.results).toEqual([
      { cpu: 0, ok: true, pa: "0x5010", value: "0x5555", tlb: "miss" },
      { cpu: 1, ok: true, pa: "0x5010", value: "0x5555", tlb: "miss" }, // CPU 1's own TLB was empty
      { cpu: 0, step: "store", ok: true }, // PTE[0] := 0x6007
      { cpu: 0, step: "invlpg", ok: true }, // CPU 0's own entry only
      { cpu: 0, ok: true, pa: "0x6010", value: "0x6666", tlb: "miss" },
      { cpu: 1, ok: true, pa: "0x5010", value: "0x5555", tlb: "hit" }, // stale on CPU 1 (4.10.5)
      { cpu: 0, step: "shootdown", ok: true },
      { cpu: 1, ok: true, pa: "0x6010", value: "0x6666", tlb: "miss" }, // performed first, then walked
    ]);
    // A set on every level by CPU 0's first walk; the new PTE gets A from CPU 0's walk after the INVLPG.
    expect(r.memory).toEqual([
      { paddr: "0x1000", value: "0x2027" },
      { paddr: "0x2000", value: "0x3027" },
      { paddr: "0x3000", value: "0x4027" },
      { paddr: "0x4000", value: "0x6027" },
    ]);
  });

  it("registers are per CPU: a MOV to CR3 on CPU 1 flushes CPU 1's non-global entries only", () => {
    const r = run({
      cpus: 2,
      cpu,
      memory: tables,
      accesses: [
        read(0, "0x10"),
        read(1, "0x10"),
        read(1, "0x1010"),
        { cpu: 1, step: "mov_cr3", value: "0x1000" },
        read(0, "0x10"), // CPU 0 keeps its entry
        read(1, "0x10"), // CPU 1 walks again
        read(1, "0x1010"), // global: survived CPU 1's MOV to CR3
      ],
    });
    expect(r.results.map((x) => x.tlb ?? x.step)).toEqual(["miss", "miss", "miss", "mov_cr3", "hit", "miss", "hit"]);
  });

  it("a shootdown of INVPCID type 3 leaves global entries; a flush removes them; the sender may be among the targets", () => {
    const r = run({
      cpus: 3,
      cpu,
      memory: tables,
      accesses: [
        read(1, "0x10"),
        read(1, "0x1010"),
        read(2, "0x1010"),
        { cpu: 0, step: "store", paddr: "0x4000", value: "0x6007" },
        { cpu: 0, step: "store", paddr: "0x4008", value: "0x6107" },
        { cpu: 0, step: "shootdown", targets: [0, 1], invalidations: [{ step: "invpcid", type: 3 }] },
        read(1, "0x10"), // non-global: gone, walked to the new frame
        read(1, "0x1010"), // global: kept, stale
        read(2, "0x1010"), // CPU 2 was not a target
        { cpu: 0, step: "shootdown", targets: [1, 2], invalidations: [{ step: "flush" }] },
        read(1, "0x1010"),
        read(2, "0x1010"),
      ],
    });
    expect(r.results.map((x) => (x.step ? x.step : `${x.cpu}:${x.pa as string}:${x.tlb as string}`))).toEqual([
      "1:0x5010:miss",
      "1:0x7010:miss",
      "2:0x7010:miss",
      "store",
      "store",
      "shootdown",
      "1:0x6010:miss",
      "1:0x7010:hit",
      "2:0x7010:hit",
      "shootdown",
      "1:0x6010:miss",
      "2:0x6010:miss",
    ]);
  });

  it("`explain` names the CPU of every item", () => {
    let out = "";
    expect(main(["explain", root + "examples/tlb-shootdown.json", "--no-color"], (t) => void (out += t), () => {})).toBe(0);
    expect(out).toContain("CPU 1:\nread, 8 bytes at 0x10");
    expect(out).toContain("CPU 0: TLB shootdown to CPU 1: INVLPG 0x0; each target performs it before its next item");
    expect(out).toContain("=> physical address 0x5010, value 0x5555\n  TLB hit: no walk");
  });

  it("the reference engine refuses them (it has no TLB); version-1 scenarios are unchanged", () => {
    const s = parseScenario({ cpus: 2, cpu, memory: tables, accesses: [read(1, "0x10")] });
    expect(() => new ReferenceEngine().run(s)).toThrow(X86MmuError);
    expect(run({ cpu, memory: tables, accesses: [{ va: "0x10", op: "read", size: 8, cpl: 3 }] }).results).toEqual([{ ok: true, pa: "0x5010", value: "0x5555" }]);
  });

  it("rejects malformed several-CPU scenarios, naming the field", () => {
    const bad = (s: object, field: RegExp) => {
      try {
        parseScenario(s);
      } catch (e) {
        expect(e).toBeInstanceOf(ScenarioError);
        expect((e as Error).message).toMatch(field);
        return;
      }
      throw new Error("accepted: " + JSON.stringify(s));
    };
    const base = { cpu, memory: tables };
    bad({ ...base, accesses: [read(1, "0x10")] }, /accesses\[0\]\.cpu: needs the top-level "cpus"/);
    bad({ ...base, cpus: 2, accesses: [read(2, "0x10")] }, /accesses\[0\]\.cpu: must be an integer 0\.\.1/);
    bad({ ...base, cpus: 0, accesses: [] }, /cpus: must be an integer 1\.\.64/);
    bad({ ...base, cpus: 65, accesses: [] }, /cpus: must be an integer 1\.\.64/);
    bad({ ...base, accesses: [{ step: "shootdown", targets: [0], invalidations: [{ step: "flush" }] }] }, /"shootdown" needs the top-level "cpus"/);
    bad({ ...base, cpus: 2, accesses: [{ step: "shootdown", targets: [1, 1], invalidations: [{ step: "flush" }] }] }, /targets\[1\]: names CPU 1 twice/);
    bad({ ...base, cpus: 2, accesses: [{ step: "shootdown", targets: [], invalidations: [{ step: "flush" }] }] }, /targets: must be a non-empty array/);
    bad({ ...base, cpus: 2, accesses: [{ step: "shootdown", targets: [1], invalidations: [{ step: "store", paddr: "0x0", value: "0x0" }] }] }, /invalidations\[0\]\.step: must be "invlpg", "invpcid" or "flush"/);
    bad({ ...base, cpus: 2, accesses: [{ step: "shootdown", targets: [1], invalidations: [] }] }, /invalidations: must be a non-empty array/);
    bad({ ...base, cpus: 2, accesses: [{ step: "shootdown", targets: [1], invalidations: [{ step: "invlpg" }] }] }, /invalidations\[0\]\.va/);
    bad({ cpu: { ...cpu, npt: { ncr3: "0x1000" } }, memory: tables, cpus: 2, accesses: [] }, /cpus: several CPUs are not part of the nested-paging format/);
  });
});
