/**
 * The scenario parser rejects inputs that break the format
 * (docs/scenario-format.md), naming the scenario, the field and the problem;
 * and the output formatter's hex round-trips.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { pagingMode, parseScenario, parseScenarioText, ScenarioError } from "../src/scenario/parse.js";
import { formatResult, formatResults, hex } from "../src/scenario/format.js";
import type { ScenarioResult } from "../src/scenario/types.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function valid(): Json {
  return {
    name: "user write",
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
}

function errorOf(f: () => unknown): ScenarioError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return e as ScenarioError;
  }
  throw new Error("expected a ScenarioError, nothing was thrown");
}

function rejects(mutate: (s: Json) => void, scenario: string, field: string, fragment: string | RegExp): ScenarioError {
  const s = valid();
  mutate(s);
  const e = errorOf(() => parseScenario(s));
  expect(e.code).toBe("SCENARIO_FORMAT");
  expect(e.scenario).toBe(scenario);
  expect(e.field).toBe(field);
  expect(e.message).toMatch(fragment);
  if (field) expect(e.message).toContain(field);
  return e;
}

describe("parseScenario accepts the format", () => {
  it("parses the format's example with its defaults", () => {
    const s = parseScenario(valid());
    expect(s.name).toBe("user write");
    expect(s.cpu).toEqual({ cr0: 0x80010033n, cr3: 0x1000n, cr4: 0x3006a0n, efer: 0xd00n, pkru: 0n, pkrs: 0n, maxphyaddr: 46 });
    expect(s.memory[4]).toEqual({ paddr: 0x5000n, fill: 0xccccccccccccccccn, count: 512 });
    expect(s.accesses[0]).toEqual({ va: 0n, op: "read", size: 8, cpl: 3, ac: false, value: 0n });
    expect(s.accesses[1]!.value).toBe(0xdeadbeefn);
    expect(s.accesses[2]).toEqual({ va: 0x20n, op: "fetch", size: 1, cpl: 0, ac: false, value: 0n });
  });

  it("defaults maxphyaddr to 52 and accepts upper-case hex and 64-bit values", () => {
    const s = valid();
    delete s.cpu.maxphyaddr;
    s.accesses[0].va = "0xFFFF800000000000";
    s.memory[0].qwords = ["0xFFFFFFFFFFFFFFFF"];
    const p = parseScenario(s);
    expect(p.cpu.maxphyaddr).toBe(52);
    expect(p.accesses[0]!.va).toBe(0xffff800000000000n);
    expect((p.memory[0] as { qwords: bigint[] }).qwords[0]).toBe((1n << 64n) - 1n);
  });

  it("accepts a region that ends exactly at 2^maxphyaddr", () => {
    const s = valid();
    s.memory.push({ paddr: "0x" + ((1n << 46n) - 8n).toString(16), qwords: ["0x1"] });
    expect(() => parseScenario(s)).not.toThrow();
  });
});

describe("parseScenario rejects malformed scenarios", () => {
  it("missing cpu.cr3", () => {
    rejects((s) => delete s.cpu.cr3, "user write", "cpu.cr3", /is required/);
  });

  it("bad hex", () => {
    rejects((s) => (s.cpu.cr4 = "3006a0"), "user write", "cpu.cr4", /0x-prefixed hex string, got "3006a0"/);
    rejects((s) => (s.accesses[1].value = "0xdeadbeeg"), "user write", "accesses[1].value", /hex string/);
    rejects((s) => (s.memory[0].paddr = 4096), "user write", "memory[0].paddr", /hex string, got 4096/);
    rejects((s) => (s.cpu.cr3 = "0x"), "user write", "cpu.cr3", /hex string/);
  });

  it("hex wider than 64 bits", () => {
    rejects((s) => (s.accesses[0].va = "0x1" + "0".repeat(16)), "user write", "accesses[0].va", /does not fit in 64 bits/);
  });

  it("size 3", () => {
    const e = rejects((s) => (s.accesses[2].size = 3), "user write", "accesses[2].size", "must be 1, 2, 4 or 8, got 3");
    expect(e.message).toBe('scenario "user write" accesses[2].size: must be 1, 2, 4 or 8, got 3');
  });

  it("cpl 1", () => {
    rejects((s) => (s.accesses[0].cpl = 1), "user write", "accesses[0].cpl", "must be 0 or 3, got 1");
  });

  it("fetch with size 8", () => {
    rejects((s) => (s.accesses[2].size = 8), "user write", "accesses[2].size", /must be 1 \(or absent\) for a fetch, got 8/);
  });

  it("ac that is not a boolean", () => {
    rejects((s) => (s.accesses[0].ac = 1), "user write", "accesses[0].ac", /true or false/);
  });

  it("overlapping regions", () => {
    rejects((s) => s.memory.push({ paddr: "0x5ff8", qwords: ["0x0"] }), "user write", "memory[5]", /overlaps memory\[4\]/);
    rejects((s) => s.memory.unshift({ paddr: "0x4ff8", qwords: ["0x0", "0x0"] }), "user write", "memory[5]", /overlaps memory\[0\]/);
  });

  it("region above maxphyaddr", () => {
    rejects(
      (s) => s.memory.push({ paddr: "0x400000000000", qwords: ["0x1"] }),
      "user write",
      "memory[5]",
      /does not lie below 2\^maxphyaddr/,
    );
    rejects(
      (s) => s.memory.push({ paddr: "0x3ffffffffff8", fill: "0x0", count: 2 }),
      "user write",
      "memory[5]",
      /below 2\^maxphyaddr/,
    );
  });

  it("unaligned region, qwords with fill, bad count", () => {
    rejects((s) => (s.memory[0].paddr = "0x1004"), "user write", "memory[0].paddr", /8-byte aligned/);
    rejects((s) => (s.memory[0].fill = "0x0"), "user write", "memory[0]", /either qwords or fill \+ count, not both/);
    rejects((s) => (s.memory[4].count = 0), "user write", "memory[4].count", /positive integer/);
    rejects((s) => (s.memory[4].count = 1.5), "user write", "memory[4].count", /integer/);
    rejects((s) => delete s.memory[4].count, "user write", "memory[4].count", /required with fill/);
    rejects((s) => (s.memory[0] = { paddr: "0x1000" }), "user write", "memory[0]", /either qwords or fill \+ count/);
  });

  it("unknown key", () => {
    rejects((s) => (s.accesses[0].acc = true), "user write", "accesses[0].acc", /unknown key/);
    rejects((s) => (s.cpu.cr8 = "0x0"), "user write", "cpu.cr8", /unknown key/);
    rejects((s) => (s.version = 1), "user write", "version", /unknown key/);
  });

  it("maxphyaddr 35", () => {
    rejects((s) => (s.cpu.maxphyaddr = 35), "user write", "cpu.maxphyaddr", "from 36 to 52, got 35");
    rejects((s) => (s.cpu.maxphyaddr = 53), "user write", "cpu.maxphyaddr", "got 53");
    rejects((s) => (s.cpu.maxphyaddr = "46"), "user write", "cpu.maxphyaddr", /integer/);
  });

  it("value too big for size", () => {
    rejects((s) => (s.accesses[1].value = "0x1deadbeef"), "user write", "accesses[1].value", /does not fit in 4 bytes/);
    rejects((s) => (s.accesses[0].value = "0x1"), "user write", "accesses[0].value", /only allowed for a write/);
  });

  it("long mode with a bit missing (version 2: each is a malformed combination, or another mode)", () => {
    // CR0.PG = 0 with EFER.LMA = 1: LMA must be CR0.PG AND EFER.LME.
    rejects((s) => (s.cpu.cr0 = "0x10033"), "user write", "cpu.efer", /EFER\.LMA.*CR0\.PG AND EFER\.LME/);
    rejects((s) => (s.cpu.cr0 = "0x80010032"), "user write", "cpu.cr0", /CR0\.PE/);
    rejects((s) => (s.cpu.cr4 = "0x300680"), "user write", "cpu.cr4", /CR4\.PAE/);
    rejects((s) => (s.cpu.efer = "0xc00"), "user write", "cpu.efer", /EFER\.LME/);
    rejects((s) => (s.cpu.efer = "0x900"), "user write", "cpu.efer", /EFER\.LMA/);
  });

  it("bad op, missing va, wrong container types", () => {
    rejects((s) => (s.accesses[0].op = "exec"), "user write", "accesses[0].op", /"read", "write" or "fetch"/);
    rejects((s) => delete s.accesses[0].va, "user write", "accesses[0].va", /is required/);
    rejects((s) => (s.accesses = {}), "user write", "accesses", /array/);
    rejects((s) => delete s.cpu, "user write", "cpu", /is required/);
    rejects((s) => (s.cpu.pkru = "0x100000000"), "user write", "cpu.pkru", /32 bits/);
  });

  it("labels a scenario without a name by its position", () => {
    const s = valid();
    delete s.name;
    s.accesses[2].size = 3;
    const e = errorOf(() => parseScenario(s, "#4"));
    expect(e.scenario).toBe("#4");
    expect(e.message).toBe("scenario #4 accesses[2].size: must be 1, 2, 4 or 8, got 3");
    expect(parseScenario(valid(), "#4").name).toBe("user write");
    rejects((x) => (x.name = 7), "#1", "name", /must be a string/);
    expect(errorOf(() => parseScenario([1, 2])).field).toBe("");
  });
});

describe("version 2: the paging mode follows from CR0.PG, CR4.PAE, EFER.LME", () => {
  /** The format's example in a legacy mode: 32-bit paging unless changed. */
  function legacy(cpu: Json = {}): Json {
    const s = valid();
    s.cpu = { cr0: "0x80010033", cr3: "0x1000", cr4: "0x10", efer: "0x0", ...cpu };
    return s;
  }
  const mode = (s: Json) => pagingMode(parseScenario(s).cpu);

  it("selects no paging, 32-bit, PAE, 4-level and 5-level paging", () => {
    expect(mode(legacy({ cr0: "0x10033" }))).toBe("none");
    expect(mode(legacy({ cr0: "0x0", cr4: "0x20", efer: "0x900" }))).toBe("none"); // PG = 0: LME, PAE, NXE do not matter
    expect(mode(legacy())).toBe("32-bit");
    expect(mode(legacy({ cr4: "0x30", efer: "0x800" }))).toBe("pae");
    expect(mode(valid())).toBe("4-level");
    const la57 = valid();
    la57.cpu.cr4 = "0x3016a0";
    expect(mode(la57)).toBe("5-level");
  });

  it("accepts PKE, PKS, PKRU and PKRS outside long mode (they do nothing there)", () => {
    const s = parseScenario(legacy({ cr4: "0x1400020", pkru: "0xc", pkrs: "0x3" }));
    expect(s.cpu.pkru).toBe(0xcn);
    expect(pagingMode(s.cpu)).toBe("pae");
  });

  it("keeps the meaning of version-1 (long-mode) scenarios: 64-bit addresses and registers", () => {
    const s = valid();
    s.cpu.cr3 = "0x8000000000001000";
    s.cpu.cr4 = "0x3206a0"; // PCIDE
    s.accesses[0].va = "0xffff800000000000";
    const p = parseScenario(s);
    expect(p.cpu.cr3).toBe(0x8000000000001000n);
    expect(p.accesses[0]!.va).toBe(0xffff800000000000n);
  });

  it("refuses CR0.PG = 1 with CR0.PE = 0, in every paging mode", () => {
    rejects((s) => Object.assign(s, legacy({ cr0: "0x80000000" })), "user write", "cpu.cr0", /CR0\.PG.*CR0\.PE/);
    rejects((s) => (s.cpu.cr0 = "0x80010032"), "user write", "cpu.cr0", /CR0\.PE/);
  });

  it("refuses CR0.PG = 1, EFER.LME = 1 with CR4.PAE = 0", () => {
    rejects((s) => Object.assign(s, legacy({ efer: "0x500" })), "user write", "cpu.cr4", /CR4\.PAE/);
    rejects((s) => (s.cpu.cr4 = "0x300680"), "user write", "cpu.cr4", /CR4\.PAE/);
  });

  it("refuses an EFER.LMA that differs from CR0.PG AND EFER.LME", () => {
    // LMA = 1 without LME; LMA = 0 with PG and LME (long mode); LMA = 1 with paging off.
    rejects((s) => (s.cpu.efer = "0xc00"), "user write", "cpu.efer", /EFER\.LMA \(bit 10\) is 1 but CR0\.PG AND EFER\.LME is 0/);
    rejects((s) => (s.cpu.efer = "0x900"), "user write", "cpu.efer", /EFER\.LMA \(bit 10\) is 0 but CR0\.PG AND EFER\.LME is 1/);
    rejects((s) => Object.assign(s, legacy({ cr0: "0x11", efer: "0x500" })), "user write", "cpu.efer", /EFER\.LMA/);
    rejects((s) => Object.assign(s, legacy({ cr4: "0x20", efer: "0x400" })), "user write", "cpu.efer", /EFER\.LMA/);
  });

  it("refuses cr0, cr3 or cr4 bits above bit 31 outside long mode", () => {
    rejects((s) => Object.assign(s, legacy({ cr0: "0x180010033" })), "user write", "cpu.cr0", /must fit in 32 bits outside long mode, got 0x180010033/);
    rejects((s) => Object.assign(s, legacy({ cr3: "0x100001000" })), "user write", "cpu.cr3", /32 bits outside long mode/);
    rejects((s) => Object.assign(s, legacy({ cr3: "0x8000000000001000" })), "user write", "cpu.cr3", /32 bits/);
    rejects((s) => Object.assign(s, legacy({ cr0: "0x0", cr4: "0x100000000" })), "user write", "cpu.cr4", /32 bits/);
    rejects((s) => Object.assign(s, legacy({ cr4: "0x100000020" })), "user write", "cpu.cr4", /32 bits/);
  });

  it("refuses CR4.PCIDE and CR4.LA57 outside long mode", () => {
    rejects((s) => Object.assign(s, legacy({ cr4: "0x20020" })), "user write", "cpu.cr4", /CR4\.PCIDE/);
    rejects((s) => Object.assign(s, legacy({ cr4: "0x1000" })), "user write", "cpu.cr4", /CR4\.LA57/);
    rejects((s) => Object.assign(s, legacy({ cr0: "0x33", cr4: "0x1020" })), "user write", "cpu.cr4", /CR4\.LA57/);
  });

  it("refuses a va of 2^32 or more outside long mode, naming the access", () => {
    rejects(
      (s) => {
        Object.assign(s, legacy());
        s.accesses[2].va = "0x100000000";
      },
      "user write",
      "accesses[2].va",
      /below 2\^32 outside long mode.*got 0x100000000/,
    );
    rejects((s) => Object.assign(s, legacy({ cr0: "0x0" })).accesses.push({ va: "0xffff800000000000", op: "read" }), "user write", "accesses[3].va", /2\^32/);
    const s = legacy({ cr4: "0x20" });
    s.accesses[0].va = "0xffffffff";
    expect(parseScenario(s).accesses[0]!.va).toBe(0xffffffffn);
  });
});

describe("parseScenarioText", () => {
  const line = JSON.stringify(valid());

  it("reads .jsonl one scenario per non-empty line", () => {
    const got = parseScenarioText(`${line}\n\n${line}\r\n`, "x.jsonl");
    expect(got).toHaveLength(2);
  });

  it("names the line of a JSON syntax error in .jsonl", () => {
    const e = errorOf(() => parseScenarioText(`${line}\n\n{"name": "broken",\n`, "x.jsonl"));
    expect(e.scenario).toBe("line 3");
    expect(e.field).toBe("");
    expect(e.message).toMatch(/^scenario line 3: invalid JSON/);
  });

  it("names the line of an unnamed scenario's field error in .jsonl", () => {
    const s = valid();
    delete s.name;
    delete s.cpu.cr3;
    const e = errorOf(() => parseScenarioText(`${line}\n${JSON.stringify(s)}\n`, "x.jsonl"));
    expect(e.scenario).toBe("line 2");
    expect(e.field).toBe("cpu.cr3");
  });

  it("reads .json as one (pretty-printed) object", () => {
    expect(parseScenarioText(JSON.stringify(valid(), null, 2), "x.json")).toHaveLength(1);
    const e = errorOf(() => parseScenarioText(`${line}\n${line}\n`, "x.json"));
    expect(e.message).toMatch(/invalid JSON/);
  });

  it("detects the form of stdin", () => {
    expect(parseScenarioText(JSON.stringify(valid(), null, 2), "-")).toHaveLength(1);
    expect(parseScenarioText(`${line}\n${line}\n${line}\n`, "-")).toHaveLength(3);
    expect(parseScenarioText(`  ${line}  \n`, "-")).toHaveLength(1);
    expect(errorOf(() => parseScenarioText(`${line}\n{oops\n`, "-")).scenario).toBe("line 2");
  });
});

describe("output formatting", () => {
  it("hex: lowercase, no leading zeros, 0x0", () => {
    expect(hex(0n)).toBe("0x0");
    expect(hex(0xdeadbeefn)).toBe("0xdeadbeef");
    expect(hex((1n << 64n) - 1n)).toBe("0xffffffffffffffff");
    expect(hex(0x1000n)).toBe("0x1000");
  });

  it("hex round-trips through the parser (any case in, canonical out)", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.boolean(), fc.nat({ max: 5 }), (v, upper, zeros) => {
        const text = hex(v);
        expect(text).toMatch(/^0x(0|[1-9a-f][0-9a-f]*)$/);
        const digits = "0".repeat(zeros) + v.toString(16);
        const input = "0x" + (upper ? digits.toUpperCase() : digits);
        const s = valid();
        s.accesses[0].va = input;
        const parsed = parseScenario(s).accesses[0]!.va;
        expect(parsed).toBe(v);
        expect(hex(parsed)).toBe(text);
      }),
    );
  });

  it("formats results with exactly the format's keys", () => {
    const r: ScenarioResult = {
      name: "n",
      results: [
        { ok: true, pa: 0x5000n, value: 0xccn },
        { ok: true, pa: 0x5010n },
        { ok: false, fault: "PF", errorCode: 7n, cr2: 0x10n },
        { ok: false, fault: "GP", errorCode: 0n },
      ],
      memory: [{ paddr: 0x1000n, value: 0x2027n }],
    };
    expect(formatResult(r)).toEqual({
      name: "n",
      results: [
        { ok: true, pa: "0x5000", value: "0xcc" },
        { ok: true, pa: "0x5010" },
        { ok: false, fault: "PF", error_code: "0x7", cr2: "0x10" },
        { ok: false, fault: "GP", error_code: "0x0" },
      ],
      memory: [{ paddr: "0x1000", value: "0x2027" }],
    });
    const text = formatResults([r, r], { jsonl: true });
    expect(text.split("\n")).toHaveLength(3);
    expect(JSON.parse(text.split("\n")[0]!)).toEqual(formatResult(r));
    const pretty = formatResults([r], { jsonl: false });
    expect(pretty).toBe(JSON.stringify(formatResult(r), null, 2) + "\n");
  });

  it("formats walk steps with --trace", () => {
    const r: ScenarioResult = {
      name: "t",
      results: [
        {
          ok: false,
          fault: "PF",
          errorCode: 0n,
          cr2: 0n,
          walk: [{ level: "PML4", table: 0x1000n, index: 0, entryAddr: 0x1000n, entry: 0n, allows: [], stop: "not present" }],
        },
      ],
      memory: [],
    };
    expect(formatResult(r, { trace: true })).toEqual({
      name: "t",
      results: [
        {
          ok: false,
          fault: "PF",
          error_code: "0x0",
          cr2: "0x0",
          walk: [{ level: "PML4", table: "0x1000", index: 0, entry_addr: "0x1000", entry: "0x0", allows: [], stop: "not present" }],
        },
      ],
      memory: [],
    });
    expect(formatResult(r)).not.toHaveProperty("results.0.walk");
  });
});
