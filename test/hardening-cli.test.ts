/**
 * Issue 13, defect 9: the command line under bad input.
 * - an error while a scenario runs is reported for that scenario, the others still run;
 * - deeply nested JSON is one error, not a stack overflow in the error formatter;
 * - a memory region larger than --max-memory (default 64 MiB) is refused up front
 *   (a 348-byte scenario with `count: 2^37` used to hang while memory grew past 6 GB);
 * - .jsonl and stdin are read and run one scenario at a time, and the command stops
 *   when its reader does (`run big.jsonl | head -1` used to run everything);
 * - an unknown option is one line (not Node's message with an unbalanced quote
 *   followed by the whole help); an option or argument a command does not use
 *   (`explain --trace`, `demo extra`) is refused, not ignored;
 * - empty stdin is an error (it exited 0 silently), and truncated JSON on stdin
 *   is one error (it was three unrelated ones).
 */
import { describe, it, expect } from "vitest";
import { spawnSync, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../src/cli/main.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = root + "bin/x86mmu.js";
const dir = mkdtempSync(join(tmpdir(), "x86mmu-cli-"));

function run(args: string[]): { status: number; out: string; err: string } {
  let out = "";
  let err = "";
  const status = main(args, (s) => void (out += s), (s) => void (err += s));
  return { status, out, err };
}

const good = (name: string) => ({ name, cpu: { cr0: "0x10033", cr3: "0x0", cr4: "0x0", efer: "0x0" }, memory: [], accesses: [{ va: "0x10", op: "read", size: 1, cpl: 0 }] });

describe("x86mmu under bad input", () => {
  it("refuses a region larger than --max-memory up front, and runs it when the limit is raised", () => {
    const huge = { ...good("huge"), memory: [{ paddr: "0x0", fill: "0x1", count: 2 ** 37 }] };
    const file = join(dir, "huge.jsonl");
    writeFileSync(file, JSON.stringify(huge) + "\n" + JSON.stringify(good("after")) + "\n");
    const t0 = Date.now();
    const r = run(["run", file]);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.status).toBe(1);
    expect(r.err).toContain('scenario "huge" memory');
    expect(r.err).toContain("--max-memory");
    expect(r.out.trim().split("\n").map((l) => JSON.parse(l).name)).toEqual(["after"]);
    const small = { ...good("small"), memory: [{ paddr: "0x1000", fill: "0x1", count: 1024 }] };
    writeFileSync(file, JSON.stringify(small) + "\n");
    expect(run(["run", file, "--max-memory", "4K"]).status).toBe(1);
    expect(run(["run", file, "--max-memory", "8K"]).status).toBe(0);
    expect(run(["run", file, "--max-memory", "lots"]).status).toBe(2);
  });

  it("reports deeply nested JSON as one error naming the scenario", () => {
    const deep = `{"name":"deep","cpu":${"[".repeat(200000)}${"]".repeat(200000)}}`;
    const file = join(dir, "deep.jsonl");
    writeFileSync(file, deep + "\n" + JSON.stringify(good("next")) + "\n");
    const r = run(["run", file]);
    expect(r.status).toBe(1);
    expect(r.err).toContain('scenario "deep" cpu');
    expect(JSON.parse(r.out).name).toBe("next");
  });

  it("reports an unknown option in one line, and refuses options and arguments a command does not use", () => {
    const u = run(["run", "x.json", "--frob"]);
    expect(u.status).toBe(2);
    expect(u.err).toBe("x86mmu: unknown option --frob (x86mmu --help lists the options)\n");
    for (const args of [["explain", "examples/smap.json", "--trace"], ["demo", "extra"], ["demo", "--trace"], ["run", "examples/smap.json", "--tlb"], ["run", "examples/smap.json", "--color"], ["explain", "--access", "read:0x0", "--tlb"]]) {
      const r = run(args.map((a) => (a.startsWith("examples/") ? root + a : a)));
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toMatch(/does not apply/);
      expect(r.out).toBe("");
    }
    expect(run(["run", "x.json", "--engine"]).err).toBe("x86mmu: option --engine needs a value\n");
  });

  it("says so when stdin is empty, and reports truncated JSON on stdin once", () => {
    const empty = spawnSync(process.execPath, [bin, "run", "-"], { input: "", encoding: "utf8" });
    expect(empty.status).toBe(1);
    expect(empty.stderr).toContain("stdin holds no scenario");
    const truncated = JSON.stringify(good("t"), null, 2).slice(0, 60);
    const t = spawnSync(process.execPath, [bin, "run", "-"], { input: truncated, encoding: "utf8" });
    expect(t.status).toBe(1);
    expect(t.stderr.trim().split("\n")).toHaveLength(1);
    expect(t.stderr).toContain("invalid JSON");
  });

  it("streams stdin: each result is printed before the next line is read", async () => {
    const p = spawn(process.execPath, [bin, "run", "-"], { stdio: ["pipe", "pipe", "pipe"] });
    const first = new Promise<string>((resolve) => p.stdout.once("data", (d: Buffer) => resolve(d.toString())));
    p.stdin.write(JSON.stringify(good("one")) + "\n" + JSON.stringify(good("two")) + "\n");
    expect(JSON.parse((await first).split("\n")[0]!).name).toBe("one"); // stdin is still open
    p.stdin.end(JSON.stringify(good("three")) + "\n");
    const code = await new Promise<number | null>((resolve) => p.on("close", resolve));
    expect(code).toBe(0);
  });

  it("stops when its reader does (run big.jsonl | head -1)", async () => {
    const file = join(dir, "big.jsonl");
    const w = createWriteStream(file);
    for (let i = 0; i < 20000; i++) w.write(JSON.stringify(good(`s${i}`)) + "\n");
    await new Promise((resolve) => w.end(resolve));
    const t0 = Date.now();
    const p = spawnSync("sh", ["-c", `"${process.execPath}" "${bin}" run "${file}" | head -1`], { encoding: "utf8" });
    expect(p.status).toBe(0);
    expect(JSON.parse(p.stdout).name).toBe("s0");
    const full = Date.now();
    spawnSync(process.execPath, [bin, "run", file], { encoding: "utf8", maxBuffer: 1 << 30 });
    const all = Date.now() - full;
    expect(full - t0).toBeLessThan(all / 2);
  });
});
