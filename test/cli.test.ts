/**
 * The `x86mmu` command line: `run` over every example (both engines must
 * print the same thing), `--trace`, stdin, malformed inputs (named scenario
 * and field, exit status 1, no partial result), usage errors, `explain` and
 * `demo`.
 */
import { readdirSync, readFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { main } from "../src/cli/main.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const examples = readdirSync(root + "examples").filter((f) => f.endsWith(".json") || f.endsWith(".jsonl"));

function run(args: string[]): { status: number; out: string; err: string } {
  let out = "";
  let err = "";
  const status = main(args, (s) => void (out += s), (s) => void (err += s));
  return { status, out, err };
}

describe("x86mmu run", () => {
  it("has examples to run", () => {
    expect(examples.length).toBeGreaterThanOrEqual(5);
  });

  for (const f of examples) {
    it(`runs examples/${f} with the same output on both engines`, () => {
      const core = run(["run", root + "examples/" + f]);
      const ref = run(["run", root + "examples/" + f, "--engine", "reference"]);
      expect(core.status).toBe(0);
      expect(core.err).toBe("");
      if (f.startsWith("tlb-")) {
        // TLB steps and several CPUs: the reference engine has no TLB and says so (tlb-steps and scenario-cpus tests check the results).
        expect(ref.status).toBe(1);
        expect(ref.err).toMatch(/(TLB steps|several CPUs) need the core engine/);
      } else expect(core.out).toBe(ref.out);
      const lines = f.endsWith(".jsonl") ? core.out.trim().split("\n") : [core.out];
      for (const l of lines) {
        const o = JSON.parse(l) as { name: string; results: unknown[] };
        expect(o.name.length).toBeGreaterThan(10); // every example describes itself
      }
    });
  }

  it("prints pretty JSON for .json and one line per scenario for .jsonl", () => {
    const one = run(["run", root + "examples/smap.json"]);
    expect(one.out.split("\n").length).toBeGreaterThan(10);
    const many = run(["run", root + "examples/crossing-and-canonical.jsonl"]);
    expect(many.out.trim().split("\n")).toHaveLength(3);
  });

  it("adds the walk with --trace, one entry per level, with the stop reason", () => {
    const r = run(["run", root + "examples/user-write-readonly.json", "--trace"]);
    const o = JSON.parse(r.out) as { results: { walk: { level: string; stop?: string }[] }[] };
    expect(o.results[0]!.walk.map((s) => s.level)).toEqual(["PML4", "PDPT", "PD", "PT"]);
    expect(o.results[1]!.walk[3]!.stop).toMatch(/read-only/);
    expect(o.results[2]!.walk[3]!.stop).toMatch(/SMEP/);
  });

  it("reads stdin for - (through the real binary)", () => {
    const input = readFileSync(root + "examples/smap.json", "utf8");
    const p = spawnSync(process.execPath, [root + "bin/x86mmu.js", "run", "-"], { input, encoding: "utf8" });
    expect(p.status).toBe(0);
    expect(JSON.parse(p.stdout)).toEqual(JSON.parse(run(["run", root + "examples/smap.json"]).out));
  });

  it("names the scenario and field of a malformed input, exits 1, and still runs the good lines", () => {
    const good = readFileSync(root + "examples/crossing-and-canonical.jsonl", "utf8").trim().split("\n")[0]!;
    const bad = JSON.stringify({ ...JSON.parse(good), name: "bad size", accesses: [{ va: "0x0", op: "read", size: 3 }] });
    const p = spawnSync(process.execPath, [root + "bin/x86mmu.js", "run", "-"], { input: good + "\n" + bad + "\n", encoding: "utf8" });
    expect(p.status).toBe(1);
    expect(p.stderr).toContain('scenario "bad size" accesses[0].size');
    expect(p.stdout.trim().split("\n")).toHaveLength(1);
    expect(p.stdout).not.toContain("bad size");
  });

  it("rejects invalid JSON naming the line", () => {
    const p = spawnSync(process.execPath, [root + "bin/x86mmu.js", "run", "-"], { input: "{\"name\": \"x\"}\n{oops\n", encoding: "utf8" });
    expect(p.status).toBe(1);
    expect(p.stderr).toContain("line 2");
    expect(p.stderr).toContain("invalid JSON");
  });

  it("exits 2 with a message for a missing file, a missing argument or an unknown command", () => {
    expect(run(["run", "/nonexistent.json"]).status).toBe(2);
    expect(run(["run", "/nonexistent.json"]).err).toContain("cannot read");
    expect(run(["run"]).status).toBe(2);
    expect(run(["frobnicate"]).status).toBe(2);
    expect(run(["run", "x.json", "--engine", "qemu"]).status).toBe(2);
  });

  it("lists the commands with --help", () => {
    const r = run(["--help"]);
    expect(r.status).toBe(0);
    for (const c of ["run", "explain", "demo"]) expect(r.out).toContain(`x86mmu ${c}`);
    // The example's shell line continuation survives (a "\" at the end of its line, then the next line).
    expect(r.out).toMatch(/--map 0x400000=0x5000:user \\\n {10,}--access read:0x400010:8 /);
  });
});

describe("x86mmu explain and demo", () => {
  it("explains each access: indices, entries with flags, and the rule that faulted", () => {
    const r = run(["explain", root + "examples/smap.json", "--no-color"]);
    expect(r.status).toBe(0);
    expect(r.out).toContain("PML4[0]");
    expect(r.out).toContain("SMAP: supervisor-mode data access to a user-mode page with EFLAGS.AC=0");
    expect(r.out).toContain("SMEP: supervisor-mode fetch from a user-mode page");
    expect(r.out).not.toContain("\x1b[");
  });

  it("runs the demo with a fault among the translations", () => {
    const r = run(["demo", "--no-color"]);
    expect(r.status).toBe(0);
    expect(r.out).toContain("=> physical address");
    expect(r.out).toContain("=> #PF, error code 0x7 (P|W|U)");
  });
});

describe("examples/owner-guarded-io.mjs", () => {
  it("runs against the built package and shows the refusals and the mid-copy fault", () => {
    const p = spawnSync(process.execPath, [root + "examples/owner-guarded-io.mjs"], { encoding: "utf8" });
    expect(p.status).toBe(0);
    expect(p.stdout).toContain('read back: "hello, x86mmu!"');
    expect(p.stdout).toContain("refused (VmSpaceOwner::can_create_reader)");
    expect(p.stdout).toContain("refused (x86mmu::no_physical_alias)");
    expect(p.stdout).toContain("copied 4096 bytes, then #PF at 0x402000, error code 0x5 (P|U)");
    expect(p.stdout).toContain("inv() holds: true");
  });
});
