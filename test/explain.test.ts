/**
 * `x86mmu explain`: the exact text for a few scenarios (written out by hand
 * from the examples' page tables, SDM Vol. 3A 4.5-4.7), the compact
 * command-line form, plain text when piped, and the facts `run --trace` adds.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";
import { checksOf } from "../src/cli/explain.js";
import { CoreEngine } from "../src/scenario/core-engine.js";
import { parseScenario } from "../src/scenario/parse.js";
import { sdmCases } from "./sdm/index.js";

const root = fileURLToPath(new URL("..", import.meta.url));

/** The environment without the colour switches (vitest sets FORCE_COLOR for its workers). */
function noColourEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.FORCE_COLOR;
  delete env.NO_COLOR;
  return env;
}

function run(args: string[]): { status: number; out: string; err: string } {
  let out = "";
  let err = "";
  const status = main(args, (s) => void (out += s), (s) => void (err += s));
  return { status, out, err };
}

/** The explanations of a file, one string per access (the header line and "Memory words changed" dropped). */
function explained(file: string): string[] {
  const r = run(["explain", root + file, "--no-color"]);
  expect(r.status).toBe(0);
  return r.out.split("\n\n").filter((b) => !b.startsWith("Memory words changed") && b.trim() !== "").map((b) => b.replace(/^# .*\n/, ""));
}

const ADDRESS_0x1000 = [
  "  sign 63:48       | PML4 47:39 | PDPT 38:30 | PD 29:21  | PT 20:12  | offset 11:0",
  "  0x0              | 0 (0x0)    | 0 (0x0)    | 0 (0x0)   | 1 (0x1)   | 0x0",
  "  0000000000000000 | 000000000  | 000000000  | 000000000 | 000000001 | 000000000000",
];

describe("x86mmu explain: the exact text", () => {
  it("SMAP: a supervisor read of a user page with EFLAGS.AC=0 (examples/smap.json, access 1)", () => {
    expect(explained("examples/smap.json")[0]).toBe(
      [
        "read, 8 bytes at 0x1000, CPL 0 (supervisor mode), EFLAGS.AC=0",
        ...ADDRESS_0x1000,
        "  CR3 0x1000: the PML4 table is at 0x1000",
        "  PML4[0]   table 0x1000, entry at 0x1000 = 0x2007",
        "            P RW US; allows read/write, user, execute -> PDPT table at 0x2000",
        "  PDPT[0]   table 0x2000, entry at 0x2000 = 0x3007",
        "            P RW US; allows read/write, user, execute -> PD table at 0x3000",
        "  PD[0]     table 0x3000, entry at 0x3000 = 0x4007",
        "            P RW US; allows read/write, user, execute -> PT table at 0x4000",
        "  PT[1]     table 0x4000, entry at 0x4008 = 0x6007",
        "            P RW US; allows read/write, user, execute (leaf) -> 4 KiB page at 0x6000",
        "            stops: SMAP: supervisor-mode data access to a user-mode page with EFLAGS.AC=0",
        "  checks:",
        "    pass  P     P=1 at every level  (every entry of the walk is present (P=1))",
        "    pass  RSVD  no reserved bit set  (no entry sets a reserved bit)",
        "    FAIL  SMAP  user-mode page with EFLAGS.AC=0  (with CR4.SMAP=1, a supervisor-mode data access to a user-mode page needs EFLAGS.AC=1)",
        "    n/a   U/S (supervisor-mode access (CPL 0)), R/W (not a write), XD (not an instruction fetch), SMEP (not an instruction fetch), PK (CR4.PKE=0)",
        "  => #PF, error code 0x1 (P), CR2 = 0x1000",
        "       bit 0 P    = 1  a protection violation (the page was present)",
        "       bit 1 W/R  = 0  a read (or fetch)",
        "       bit 2 U/S  = 0  a supervisor-mode access",
        "       bit 3 RSVD = 0  no reserved bit set",
        "       bit 4 I/D  = 0  not an instruction fetch",
        "       bit 5 PK   = 0  no protection-key violation",
        "       bit 6 SS   = 0  not a shadow-stack access",
      ].join("\n"),
    );
  });

  it("the same read with EFLAGS.AC=1 succeeds; the first walk set A in the three upper entries", () => {
    expect(explained("examples/smap.json")[1]).toBe(
      [
        "read, 8 bytes at 0x1000, CPL 0 (supervisor mode), EFLAGS.AC=1",
        ...ADDRESS_0x1000,
        "  CR3 0x1000: the PML4 table is at 0x1000",
        "  PML4[0]   table 0x1000, entry at 0x1000 = 0x2027",
        "            P RW US A; allows read/write, user, execute -> PDPT table at 0x2000",
        "  PDPT[0]   table 0x2000, entry at 0x2000 = 0x3027",
        "            P RW US A; allows read/write, user, execute -> PD table at 0x3000",
        "  PD[0]     table 0x3000, entry at 0x3000 = 0x4027",
        "            P RW US A; allows read/write, user, execute -> PT table at 0x4000",
        "  PT[1]     table 0x4000, entry at 0x4008 = 0x6007",
        "            P RW US; allows read/write, user, execute (leaf) -> 4 KiB page at 0x6000",
        "  checks:",
        "    pass  P     P=1 at every level  (every entry of the walk is present (P=1))",
        "    pass  RSVD  no reserved bit set  (no entry sets a reserved bit)",
        "    pass  SMAP  EFLAGS.AC=1 lifts SMAP  (with CR4.SMAP=1, a supervisor-mode data access to a user-mode page needs EFLAGS.AC=1)",
        "    n/a   U/S (supervisor-mode access (CPL 0)), R/W (not a write), XD (not an instruction fetch), SMEP (not an instruction fetch), PK (CR4.PKE=0)",
        "  => physical address 0x6000 = 4 KiB page 0x6000 + offset 0x0 (address bits 11:0), value 0x1122334455667788",
      ].join("\n"),
    );
  });

  it("a user write to a read-only page: R/W=0 in the PTE, error code P|W|U (examples/user-write-readonly.json, access 2)", () => {
    const text = explained("examples/user-write-readonly.json")[1]!;
    expect(text.split("\n").slice(11)).toEqual([
      "  PT[0]     table 0x4000, entry at 0x4000 = 0x5025",
      "            P US A; allows read-only, user, execute (leaf) -> 4 KiB page at 0x5000",
      "            stops: user-mode write to a read-only page (R/W=0 in some entry)",
      "  checks:",
      "    pass  P     P=1 at every level  (every entry of the walk is present (P=1))",
      "    pass  RSVD  no reserved bit set  (no entry sets a reserved bit)",
      "    pass  U/S   U/S=1 at every level  (a user-mode access needs U/S=1 in every entry)",
      "    FAIL  R/W   R/W=0 in the PT entry  (a user-mode write needs R/W=1 in every entry)",
      "    n/a   XD (not an instruction fetch), SMEP (user-mode access), SMAP (user-mode access), PK (CR4.PKE=0)",
      "  => #PF, error code 0x7 (P|W|U), CR2 = 0x10",
      "       bit 0 P    = 1  a protection violation (the page was present)",
      "       bit 1 W/R  = 1  a write",
      "       bit 2 U/S  = 1  a user-mode access",
      "       bit 3 RSVD = 0  no reserved bit set",
      "       bit 4 I/D  = 0  not an instruction fetch",
      "       bit 5 PK   = 0  no protection-key violation",
      "       bit 6 SS   = 0  not a shadow-stack access",
    ]);
    expect(text.split("\n")[0]).toBe("write of 0xdeadbeef, 4 bytes at 0x10, CPL 3 (user mode)");
  });

  it("large pages: the 2 MiB leaf, the offset of 21 bits, and the reserved-bit fault named (examples/large-pages.json)", () => {
    const [first, , third] = explained("examples/large-pages.json");
    expect(first!.split("\n").slice(-7, -1)).toEqual([
      "  PD[0]     table 0x3000, entry at 0x3000 = 0x200083",
      "            P RW PS; allows read/write, supervisor-only, execute (leaf) -> 2 MiB page at 0x200000",
      "  checks:",
      "    pass  P     P=1 at every level  (every entry of the walk is present (P=1))",
      "    pass  RSVD  no reserved bit set  (no entry sets a reserved bit)",
      "    n/a   U/S (supervisor-mode access (CPL 0)), R/W (not a write), XD (not an instruction fetch), SMEP (CR4.SMEP=0), SMAP (CR4.SMAP=0), PK (CR4.PKS=0)",
    ]);
    expect(first).toContain("  => physical address 0x323456 = 2 MiB page 0x200000 + offset 0x123456 (address bits 20:0), value 0x0");
    // The address table has no PT index for a 2 MiB page: bits 20:0 are the offset (0x123456 in 21 bits).
    expect(first!.split("\n").slice(1, 4)).toEqual([
      "  sign 63:48       | PML4 47:39 | PDPT 38:30 | PD 29:21  | offset 20:0",
      "  0x0              | 0 (0x0)    | 0 (0x0)    | 0 (0x0)   | 0x123456",
      "  0000000000000000 | 000000000  | 000000000  | 000000000 | 100100011010001010110",
    ]);
    expect(third).toContain(
      [
        "  PD[1]     table 0x3000, entry at 0x3008 = 0x402083",
        "            P RW PS; allows read/write, supervisor-only, execute (leaf) -> 2 MiB page at 0x400000",
        "            stops: reserved bit set: bits 20:13 of a 2 MiB page's frame address",
        "  checks:",
        "    pass  P     P=1 at every level  (every entry of the walk is present (P=1))",
        "    FAIL  RSVD  the PD entry: reserved bit set: bits 20:13 of a 2 MiB page's frame address  (no entry sets a reserved bit)",
        "  => #PF, error code 0x9 (P|RSVD), CR2 = 0x200000",
      ].join("\n"),
    );
  });

  it("a non-canonical address: #GP(0), no walk", () => {
    const gp = explained("examples/crossing-and-canonical.jsonl").find((t) => t.startsWith("read, 1 byte at 0x800000000000"))!;
    expect(gp.split("\n").slice(-1)).toEqual(["  => #GP(0): the address is not canonical (bits 63:48 must equal bit 47); no walk is made"]);
    expect(gp).not.toContain("PML4[");
  });

  it("a not-present entry: the walk stops there, flags say not present, error code P=0", () => {
    const text = explained("examples/crossing-and-canonical.jsonl").find((t) => t.startsWith("write of 0xabcdef01"))!;
    expect(text).toContain("  The access crosses into the next page, 0x2000, which is walked too:");
    expect(text).toContain(
      [
        "  PT[2]     table 0x4000, entry at 0x4010 = 0x0",
        "            not present (P=0)",
        "            stops: not present",
        "  checks:",
        "    FAIL  P     the PT entry has P=0  (every entry of the walk is present (P=1))",
        "  => #PF, error code 0x2 (W), CR2 = 0x2000",
        "       bit 0 P    = 0  the page was not present",
      ].join("\n"),
    );
  });
});

describe("x86mmu explain: the compact form", () => {
  it("builds the tables from CR3 with the page-table helpers and explains each access", () => {
    const r = run(["explain", "--no-color", "--cr4", "0x3000a0", "--map", "0x400000=0x5000:user", "--map", "0x600000=0x200000:rw,user,nx,2m",
      "--access", "read:0x400010:8", "--access", "read:0x400010:8:ac", "--access", "write:0x600010:4:cpl3:value=0xbeef", "--access", "fetch:0x600000:cpl3"]);
    expect(r.err).toBe("");
    expect(r.status).toBe(0);
    const lines = r.out.split("\n");
    expect(lines[0]).toMatch(/^# 4-level page tables built from CR3 0x1000 \(tables at 0x1000, /);
    expect(lines.slice(1, 4)).toEqual([
      "  CR0 0x80010033  CR4 0x3000a0  EFER 0xd00",
      "  map 0x400000           -> 0x5000       4 KiB, read-only, user",
      "  map 0x600000           -> 0x200000     2 MiB, writable, user, execute-disable",
    ]);
    const blocks = r.out.split("\n\n");
    expect(blocks[1]).toContain("read, 8 bytes at 0x400010, CPL 0 (supervisor mode), EFLAGS.AC=0");
    expect(blocks[1]).toContain("            P US; allows read-only, user, execute (leaf) -> 4 KiB page at 0x5000");
    expect(blocks[1]).toContain("stops: SMAP: supervisor-mode data access to a user-mode page with EFLAGS.AC=0");
    expect(blocks[1]).toContain("  => #PF, error code 0x1 (P), CR2 = 0x400010");
    expect(blocks[2]).toContain("  => physical address 0x5010 = 4 KiB page 0x5000 + offset 0x10 (address bits 11:0), value 0x0");
    expect(blocks[3]).toContain("P RW US PS XD; allows read/write, user, no-execute (leaf) -> 2 MiB page at 0x200000");
    expect(blocks[3]).toContain("  => physical address 0x200010 = 2 MiB page 0x200000 + offset 0x10 (address bits 20:0)");
    expect(blocks[4]).toContain("    FAIL  XD    XD=1 in the PD entry");
    expect(blocks[4]).toContain("  => #PF, error code 0x15 (P|U|I/D), CR2 = 0x600000");
  });

  it("honours --cr3, --efer and --mem (a raw word that breaks an entry)", () => {
    const r = run(["explain", "--no-color", "--cr3", "0x10000", "--efer", "0x500", "--map", "0x0=0x5000:rw", "--mem", "0x10000=0x0", "--access", "write:0x8:8"]);
    expect(r.status).toBe(0);
    expect(r.out).toContain("  mem 0x10000 = 0x0");
    expect(r.out).toContain("  PML4[0]   table 0x10000, entry at 0x10000 = 0x0");
    expect(r.out).toContain("  => #PF, error code 0x2 (W), CR2 = 0x8");
  });

  it("refuses a malformed option with exit status 2 and says what is wrong", () => {
    for (const [args, msg] of [
      [["--map", "0x400000=0x5000:bogus", "--access", "read:0x0"], 'unknown flag "bogus"'],
      [["--map", "0x400000", "--access", "read:0x0"], "is not VA=PA[:FLAGS]"],
      [["--access", "load:0x0"], "OP read, write or fetch"],
      [["--access", "read:0x0:3"], 'unknown part "3"'],
      [["--map", "0x0=0x1000", "--access", "read:0x0"], "CR3 0x1000 is inside a mapped page"],
      [["--map", "0x0=0x0"], "give at least one --access"],
    ] as [string[], string][]) {
      const r = run(["explain", ...args]);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.err).toContain(msg);
      expect(r.out).toBe("");
    }
    const withFile = run(["explain", root + "examples/smap.json", "--cr3", "0x1000"]);
    expect(withFile.status).toBe(2);
    const onRun = run(["run", "--map", "0x0=0x5000", "--access", "read:0x0"]);
    expect(onRun.status).toBe(2);
  });
});

describe("x86mmu explain: colour", () => {
  it("is plain text when stdout is not a terminal (through the real binary, piped)", () => {
    const p = spawnSync(process.execPath, [root + "bin/x86mmu.js", "explain", root + "examples/smap.json"], { encoding: "utf8", env: noColourEnv() });
    expect(p.status).toBe(0);
    expect(p.stdout).toContain("stops: SMAP");
    expect(p.stdout).not.toContain("\x1b[");
  });

  it("honours FORCE_COLOR (on unless 0) when stdout is piped, and --no-color over it", () => {
    const explain = (env: NodeJS.ProcessEnv, ...extra: string[]) =>
      spawnSync(process.execPath, [root + "bin/x86mmu.js", "explain", root + "examples/smap.json", ...extra], { encoding: "utf8", env: { ...noColourEnv(), ...env } }).stdout;
    expect(explain({ FORCE_COLOR: "1" })).toContain("\x1b[31mstops: SMAP");
    expect(explain({ FORCE_COLOR: "0" })).not.toContain("\x1b[");
    expect(explain({ FORCE_COLOR: "1" }, "--no-color")).not.toContain("\x1b[");
  });

  it("is ANSI colour with --color, and the text under the colour is the same", () => {
    const p = spawnSync(process.execPath, [root + "bin/x86mmu.js", "explain", root + "examples/smap.json", "--color"], { encoding: "utf8" });
    const plain = spawnSync(process.execPath, [root + "bin/x86mmu.js", "explain", root + "examples/smap.json"], { encoding: "utf8", env: noColourEnv() });
    expect(p.stdout).toContain("\x1b[31mstops: SMAP");
    // eslint-disable-next-line no-control-regex
    expect(p.stdout.replace(/\x1b\[[0-9;]*m/g, "")).toBe(plain.stdout);
  });
});

describe("x86mmu run --trace carries the explainer's facts", () => {
  it("adds flags, next, checks and error_code_bits, keeping every existing key", () => {
    const r = run(["run", root + "examples/smap.json", "--trace"]);
    expect(r.status).toBe(0);
    const o = JSON.parse(r.out) as { results: Record<string, unknown>[] };
    const first = o.results[0] as { walk: Record<string, unknown>[]; checks: { check: string; applies: boolean; pass: boolean; why: string }[][]; error_code_bits: unknown[] };
    expect(first.walk[3]).toEqual({
      level: "PT",
      table: "0x4000",
      index: 1,
      entry_addr: "0x4008",
      entry: "0x6007",
      allows: ["W", "U", "X", "leaf 4K"],
      stop: "SMAP: supervisor-mode data access to a user-mode page with EFLAGS.AC=0",
      flags: ["P", "RW", "US"],
      next: { page: "4K", paddr: "0x6000" },
    });
    expect(first.walk[0]).toMatchObject({ flags: ["P", "RW", "US"], next: { table: "PDPT", paddr: "0x2000" } });
    expect(first.checks[0]!.find((c) => c.check === "SMAP")).toMatchObject({ applies: true, pass: false, why: "user-mode page with EFLAGS.AC=0" });
    expect(first.error_code_bits[0]).toEqual({ bit: 0, name: "P", value: 1, meaning: "a protection violation (the page was present)" });
    expect(o.results[1]).not.toHaveProperty("error_code_bits");
    const gp = JSON.parse(run(["run", root + "examples/five-level.json", "--trace"]).out) as { results: Record<string, unknown>[] };
    expect(gp.results[1]).toMatchObject({ fault: "GP", reason: "the address is not canonical (bits 63:57 must equal bit 56); no walk is made" });
  });

  it("names the reserved PDPTE bit, not canonicality, as a PAE #GP's reason", () => {
    // PAE (CR4.PAE=1, EFER.LME=0); PDPT at 0x1000 whose PDPTE 0 is present with bit 1 (reserved in a PDPTE) set.
    const scenario = {
      name: "pae reserved pdpte",
      cpu: { cr0: "0x80000011", cr3: "0x1000", cr4: "0x20", efer: "0x0", maxphyaddr: 36 },
      memory: [{ paddr: "0x1000", qwords: ["0x2003"] }],
      accesses: [{ va: "0x0", op: "read", size: 1, cpl: 0 }],
    };
    const file = join(mkdtempSync(join(tmpdir(), "x86mmu-")), "pae-gp.json");
    writeFileSync(file, JSON.stringify(scenario));
    const o = JSON.parse(run(["run", file, "--trace"]).out) as { results: Record<string, unknown>[] };
    expect(o.results[0]).toMatchObject({ fault: "GP", reason: expect.stringContaining("PDPTE") });
  });

  it("leaves run without --trace as it was (no added key)", () => {
    const o = JSON.parse(run(["run", root + "examples/smap.json"]).out) as { results: Record<string, unknown>[] };
    expect(Object.keys(o.results[0]!)).toEqual(["ok", "fault", "error_code", "cr2"]);
  });
});

describe("the permission checks agree with the core's verdict on every SDM case", () => {
  const engine = new CoreEngine();
  it.each(sdmCases.map((c) => [c.rule, c] as const))("%s", (_rule, c) => {
    const s = parseScenario(c.scenario);
    const res = engine.run(s, { trace: true });
    s.accesses.forEach((a, i) => {
      const r = res.results[i]!;
      const walks = checksOf(a, r, s.cpu);
      const last = walks[walks.length - 1] ?? [];
      const failed = last.filter((k) => k.applies && !k.pass).map((k) => k.name);
      if (r.ok) {
        for (const w of walks) expect(w.filter((k) => k.applies && !k.pass), `access ${i}`).toEqual([]);
      } else if (r.fault === "PF") {
        const code = Number(r.errorCode);
        if ((code & 1) === 0) expect(failed, `access ${i}`).toEqual(["P"]);
        else if ((code & 8) !== 0) expect(failed, `access ${i}`).toEqual(["RSVD"]);
        else {
          expect(failed.length, `access ${i}: some rule must fail`).toBeGreaterThan(0);
          expect(failed.includes("PK"), `access ${i}: PK`).toBe((code & 0x20) !== 0);
        }
      }
    });
  });
});
